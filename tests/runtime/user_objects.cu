// SPDX-License-Identifier: MIT
// user_objects — CUDA user objects, as NCCL uses them to keep what a captured collective needs
// alive for as long as a graph may run it: an object's destructor runs (in this process, on a
// thread of the driver's) when its last reference goes, whether the program, a graph, the
// graph's clone or its executable graph held it; references added and given back; a
// reference moved into a graph; a graph releasing some of its references.
#include "rt.h"

#include <atomic>
#include <unistd.h>

__global__ void add(int *p, int v) { p[threadIdx.x] += v; }

static std::atomic<int> destroyed[4];
static void CUDART_CB destroy(void *p) { destroyed[(long)p]++; }

/* wait (up to 5 s) until object i's destructor ran; its count */
static int ran(int i)
{
	for (int t = 0; t < 500 && !destroyed[i].load(); t++)
		usleep(10000);
	return destroyed[i].load();
}

int main()
{
	int *d, h[32];
	cudaStream_t s;
	CHECK(cudaMalloc(&d, sizeof(h)));
	CHECK(cudaMemset(d, 0, sizeof(h)));
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

	/* 1. the program's own references: 2 made, 3 more, 5 given back, then it is destroyed */
	cudaUserObject_t a;
	CHECK(cudaUserObjectCreate(&a, (void *)0L, destroy, 2, cudaUserObjectNoDestructorSync));
	CHECK(cudaUserObjectRetain(a, 3));
	CHECK(cudaUserObjectRelease(a, 4));
	usleep(50000);
	EXPECT(destroyed[0].load() == 0, "object 0 destroyed while the program held a reference");
	CHECK(cudaUserObjectRelease(a, 1));
	EXPECT(ran(0) == 1, "object 0's destructor ran %d times", destroyed[0].load());

	/* 2. NCCL's pattern: a captured graph takes the program's reference (moved); its clone and
	 * executable graph hold it too; it goes with the last of them, after the graph ran */
	cudaGraph_t g, c;
	cudaGraphExec_t x;
	cudaUserObject_t b;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	add<<<1, 32, 0, s>>>(d, 5);
	CHECK(cudaStreamEndCapture(s, &g));
	CHECK(cudaUserObjectCreate(&b, (void *)1L, destroy, 1, cudaUserObjectNoDestructorSync));
	CHECK(cudaGraphRetainUserObject(g, b, 1, cudaGraphUserObjectMove));
	CHECK(cudaGraphClone(&c, g));
	CHECK(cudaGraphInstantiate(&x, g, 0));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaGraphDestroy(c));
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaStreamSynchronize(s));
	usleep(50000);
	EXPECT(destroyed[1].load() == 0, "object 1 destroyed while an executable graph held it");
	CHECK(cudaGraphExecDestroy(x));
	EXPECT(ran(1) == 1, "object 1's destructor ran %d times", destroyed[1].load());
	CHECK(cudaMemcpy(h, d, sizeof(h), cudaMemcpyDeviceToHost));
	for (int i = 0; i < 32; i++)
		EXPECT(h[i] == 5, "element %d is %d", i, h[i]);

	/* 3. a graph adding references of its own (the program keeps its one): the program's
	 * release leaves the graph's, the graph's destruction ends it */
	cudaUserObject_t e;
	CHECK(cudaGraphCreate(&g, 0));
	CHECK(cudaUserObjectCreate(&e, (void *)2L, destroy, 1, cudaUserObjectNoDestructorSync));
	CHECK(cudaGraphRetainUserObject(g, e, 2, 0));
	CHECK(cudaUserObjectRelease(e, 1));
	usleep(50000);
	EXPECT(destroyed[2].load() == 0, "object 2 destroyed while a graph held it");
	CHECK(cudaGraphDestroy(g));
	EXPECT(ran(2) == 1, "object 2's destructor ran %d times", destroyed[2].load());

	/* 4. a graph's references taken back before the graph ends (cudaGraphReleaseUserObject):
	 * the last one taken ends the object while the graph lives on */
	cudaUserObject_t r;
	CHECK(cudaGraphCreate(&g, 0));
	CHECK(cudaUserObjectCreate(&r, (void *)3L, destroy, 1, cudaUserObjectNoDestructorSync));
	CHECK(cudaGraphRetainUserObject(g, r, 2, 0));
	CHECK(cudaUserObjectRelease(r, 1));
	CHECK(cudaGraphReleaseUserObject(g, r, 1));
	usleep(50000);
	EXPECT(destroyed[3].load() == 0, "object 3 destroyed while the graph held one reference");
	CHECK(cudaGraphReleaseUserObject(g, r, 1));
	EXPECT(ran(3) == 1, "object 3's destructor ran %d times", destroyed[3].load());
	CHECK(cudaGraphDestroy(g));
	usleep(20000);
	EXPECT(destroyed[3].load() == 1, "object 3's destructor ran again with its graph (%d times)", destroyed[3].load());

	CHECK(cudaFree(d));
	CHECK(cudaStreamDestroy(s));
	printf("user_objects: each destructor ran once, when its last reference went (the program's, a graph's, "
	       "a clone's, an executable graph's, one taken back from a graph)\n");
	return 0;
}
