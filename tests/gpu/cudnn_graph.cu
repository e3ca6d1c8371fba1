// SPDX-License-Identifier: MIT
// cudnn_graph — a convolutional layer through cuDNN's backend (graph) API, the way PyTorch's
// convolutions reach cuDNN through cudnn-frontend: tensors, a convolution and an operation
// graph of one forward, backward-data or backward-filter operation; the engine configurations
// heuristics mode A offers; an execution plan of each (a configuration cuDNN cannot finalize
// for this device or shape is passed over, as PyTorch passes it over); a variant pack with
// the data pointers and the plan's workspace; execution. Every result of every plan that
// finalized is checked against a host convolution (within 1e-4: transforms round).
//
// Prints the same lines on every run on the same device (the counts of configurations
// offered, finalized and verified), so its output directly and through vgpu can be diffed.
// Exit 0 = all verified, 1 = a failure, 3 = the device cannot run cuDNN's kernels.
#include <cudnn.h>
#include <cstring>
#include <vector>
#include "gpucheck.h"

#define CHECK_DNN(call) CHECK_LIB("cuDNN", cudnnStatus_t, CUDNN_STATUS_SUCCESS, cudnnGetErrorString, call)

enum { N = 2, C = 3, H = 9, W = 8, K = 4, R = 3, S = 3, PAD = 1, OH = H, OW = W };
enum { UID_X = 'x', UID_W = 'w', UID_Y = 'y' };
/* The inputs are exact in float and in TF32 (tensor-core engines compute in it), so a direct
 * or implicit-GEMM engine is exact; FFT and Winograd engines round their transforms: within
 * 1e-4 of the magnitude, as tests/gpu/cudnn_ops checks them. */
static const double TOL = 1e-4;

static cudnnBackendDescriptor_t make(cudnnBackendDescriptorType_t t)
{
	cudnnBackendDescriptor_t d;
	CHECK_DNN(cudnnBackendCreateDescriptor(t, &d));
	return d;
}

static void set(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a, cudnnBackendAttributeType_t t,
		int64_t n, const void *v)
{
	CHECK_DNN(cudnnBackendSetAttribute(d, a, t, n, v));
}

/* A packed float NCHW tensor of dimensions dim, named uid */
static cudnnBackendDescriptor_t tensor(int64_t uid, const int64_t dim[4])
{
	cudnnBackendDescriptor_t t = make(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
	const int64_t str[4] = {dim[1] * dim[2] * dim[3], dim[2] * dim[3], dim[3], 1}, align = 4;
	const cudnnDataType_t dt = CUDNN_DATA_FLOAT;
	set(t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt);
	set(t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dim);
	set(t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, str);
	set(t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
	set(t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align);
	CHECK_DNN(cudnnBackendFinalize(t));
	return t;
}

/* 2D cross-correlation, padding PAD, stride and dilation 1, float arithmetic */
static cudnnBackendDescriptor_t convolution()
{
	cudnnBackendDescriptor_t cv = make(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
	const int64_t dims = 2, pad[2] = {PAD, PAD}, one[2] = {1, 1};
	const cudnnDataType_t ct = CUDNN_DATA_FLOAT;
	const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
	set(cv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims);
	set(cv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &ct);
	set(cv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode);
	set(cv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
	set(cv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, pad);
	set(cv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, one);
	set(cv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, one);
	CHECK_DNN(cudnnBackendFinalize(cv));
	return cv;
}

struct conv_op {
	const char *what;
	cudnnBackendDescriptorType_t type;
	/* the operation's alpha, beta, convolution, and its x, w, y tensors' attributes */
	cudnnBackendAttributeName_t alpha, beta, conv, x, w, y;
	int64_t out_uid;   /* the tensor it writes */
};

static const conv_op ops[] = {
	{ "convolution forward", CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, UID_Y },
	{ "convolution backward data", CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_DATA_DESCRIPTOR,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_BETA,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DX,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_W, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_DATA_DY, UID_X },
	{ "convolution backward filter", CUDNN_BACKEND_OPERATION_CONVOLUTION_BACKWARD_FILTER_DESCRIPTOR,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_ALPHA, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_BETA,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_CONV_DESC, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_X,
	  CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DW, CUDNN_ATTR_OPERATION_CONVOLUTION_BWD_FILTER_DY, UID_W },
};

/* The largest difference from want relative to max(1, |want|); NaN (an element never
 * written: the output starts as NaN) counts as infinitely wrong */
static double worst(const std::vector<float> &got, const std::vector<double> &want)
{
	double w = 0;
	for (size_t i = 0; i < got.size(); i++) {
		double e = std::fabs(got[i] - want[i]) / std::fmax(1.0, std::fabs(want[i]));
		if (!(e <= w))
			w = std::isnan(e) ? INFINITY : e;
	}
	return w;
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		printf("usage: cudnn_graph\nRuns a convolution's forward, backward-data and backward-filter "
		       "operations through cuDNN's backend API with every engine configuration its "
		       "heuristics offer, each checked against the host.\n");
		return strcmp(argv[1], "--help") ? 2 : 0;
	}
	CHECK_RT(cudaSetDevice(0));
	cudnnHandle_t h;
	CHECK_DNN(cudnnCreate(&h));
	cudaStream_t st;
	CHECK_RT(cudaStreamCreate(&st));
	CHECK_DNN(cudnnSetStream(h, st));

	/* inputs on a grid of 1/4 and 1/2, so every sum is exact in float */
	std::vector<float> x(N * C * H * W), w(K * C * R * S), dy(N * K * OH * OW);
	for (size_t i = 0; i < x.size(); i++)
		x[i] = (float)((int)(i * 7 % 11) - 5) * 0.25f;
	for (size_t i = 0; i < w.size(); i++)
		w[i] = (float)((int)(i * 5 % 7) - 3) * 0.5f;
	for (size_t i = 0; i < dy.size(); i++)
		dy[i] = (float)((int)(i * 3 % 5) - 2) * 0.5f;
	std::vector<double> y(dy.size()), gx(x.size()), gw(w.size());
	for (int n = 0; n < N; n++)
		for (int k = 0; k < K; k++)
			for (int i = 0; i < OH; i++)
				for (int j = 0; j < OW; j++) {
					const size_t yi = ((size_t)(n * K + k) * OH + i) * OW + j;
					for (int c = 0; c < C; c++)
						for (int r = 0; r < R; r++)
							for (int s = 0; s < S; s++) {
								int ii = i - PAD + r, jj = j - PAD + s;
								if (ii < 0 || jj < 0 || ii >= H || jj >= W)
									continue;
								size_t xi = ((size_t)(n * C + c) * H + ii) * W + jj;
								size_t wi = ((size_t)(k * C + c) * R + r) * S + s;
								y[yi] += (double)x[xi] * w[wi];
								gx[xi] += (double)dy[yi] * w[wi];
								gw[wi] += (double)dy[yi] * x[xi];
							}
				}

	float *dx, *dw, *ddy;
	CHECK_RT(cudaMalloc(&dx, x.size() * sizeof(float)));
	CHECK_RT(cudaMalloc(&dw, w.size() * sizeof(float)));
	CHECK_RT(cudaMalloc(&ddy, dy.size() * sizeof(float)));
	const int64_t xdim[4] = {N, C, H, W}, wdim[4] = {K, C, R, S}, ydim[4] = {N, K, OH, OW};
	cudnnBackendDescriptor_t tx = tensor(UID_X, xdim), tw = tensor(UID_W, wdim), ty = tensor(UID_Y, ydim);
	cudnnBackendDescriptor_t cv = convolution();
	int failed = 0;
	for (const conv_op &o : ops) {
		/* the inputs as they are, the output NaN until written */
		CHECK_RT(cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
		CHECK_RT(cudaMemcpy(dw, w.data(), w.size() * sizeof(float), cudaMemcpyHostToDevice));
		CHECK_RT(cudaMemcpy(ddy, dy.data(), dy.size() * sizeof(float), cudaMemcpyHostToDevice));
		float *out = o.out_uid == UID_Y ? ddy : o.out_uid == UID_X ? dx : dw;
		const std::vector<double> &want = o.out_uid == UID_Y ? y : o.out_uid == UID_X ? gx : gw;

		cudnnBackendDescriptor_t op = make(o.type);
		const float alpha = 1, beta = 0;
		set(op, o.x, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tx);
		set(op, o.w, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &tw);
		set(op, o.y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &ty);
		set(op, o.conv, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cv);
		set(op, o.alpha, CUDNN_TYPE_FLOAT, 1, &alpha);
		set(op, o.beta, CUDNN_TYPE_FLOAT, 1, &beta);
		CHECK_DNN(cudnnBackendFinalize(op));
		cudnnBackendDescriptor_t graph = make(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
		set(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op);
		set(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
		CHECK_DNN(cudnnBackendFinalize(graph));
		cudnnBackendDescriptor_t heur = make(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
		const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
		set(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph);
		set(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
		CHECK_DNN(cudnnBackendFinalize(heur));
		int64_t offered = 0;
		CHECK_DNN(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
						   &offered, NULL));
		std::vector<cudnnBackendDescriptor_t> cfgs((size_t)offered);
		for (auto &c : cfgs)
			c = make(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
		int64_t got = 0;
		CHECK_DNN(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, offered,
						   &got, cfgs.data()));
		int finalized = 0, verified = 0;
		for (int64_t i = 0; i < got; i++) {
			cudnnBackendDescriptor_t plan = make(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
			set(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h);
			set(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfgs[i]);
			if (cudnnBackendFinalize(plan) != CUDNN_STATUS_SUCCESS) {   /* not for this device or shape */
				CHECK_DNN(cudnnBackendDestroyDescriptor(plan));
				continue;
			}
			finalized++;
			int64_t wsz = 0;
			CHECK_DNN(cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
							   NULL, &wsz));
			void *ws = NULL;
			if (wsz > 0)
				CHECK_RT(cudaMalloc(&ws, (size_t)wsz));
			void *ptrs[3] = {dx, dw, ddy};
			const int64_t uids[3] = {UID_X, UID_W, UID_Y};
			cudnnBackendDescriptor_t pack = make(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
			set(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, 3, ptrs);
			set(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, 3, uids);
			set(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
			CHECK_DNN(cudnnBackendFinalize(pack));
			CHECK_RT(cudaMemset(out, 0xff, want.size() * sizeof(float)));
			cudnnStatus_t es = cudnnBackendExecute(h, plan, pack);
			if (es == CUDNN_STATUS_SUCCESS)
				CHECK_RT(cudaStreamSynchronize(st));
			std::vector<float> res(want.size());
			CHECK_RT(cudaMemcpy(res.data(), out, res.size() * sizeof(float), cudaMemcpyDeviceToHost));
			double e = worst(res, want);
			if (es != CUDNN_STATUS_SUCCESS) {
				cudaError_t re = cudaGetLastError();
				if (no_kernel_image(re))
					exit_no_kernel_image("cuDNN", "cudnnBackendExecute", cudaGetErrorName(re));
				printf("FAIL %s: engine configuration %lld finalized, then cudnnBackendExecute: %s "
				       "(last runtime error %s)\n", o.what, (long long)i, cudnnGetErrorString(es),
				       cudaGetErrorName(re));
				failed = 1;
			} else if (!(e <= TOL)) {
				printf("FAIL %s: engine configuration %lld: max relative error %.3g\n", o.what,
				       (long long)i, e);
				failed = 1;
			} else {
				verified++;
			}
			CHECK_DNN(cudnnBackendDestroyDescriptor(pack));
			CHECK_DNN(cudnnBackendDestroyDescriptor(plan));
			if (ws)
				CHECK_RT(cudaFree(ws));
		}
		printf("%s: %lld engine configurations offered, %d finalized, %d verified\n", o.what,
		       (long long)got, finalized, verified);
		if (verified == 0) {
			printf("FAIL %s: no engine configuration ran\n", o.what);
			failed = 1;
		}
		for (auto &c : cfgs)
			CHECK_DNN(cudnnBackendDestroyDescriptor(c));
		CHECK_DNN(cudnnBackendDestroyDescriptor(heur));
		CHECK_DNN(cudnnBackendDestroyDescriptor(graph));
		CHECK_DNN(cudnnBackendDestroyDescriptor(op));
	}
	for (auto d : {tx, tw, ty, cv})
		CHECK_DNN(cudnnBackendDestroyDescriptor(d));
	CHECK_RT(cudaFree(dx));
	CHECK_RT(cudaFree(dw));
	CHECK_RT(cudaFree(ddy));
	CHECK_DNN(cudnnDestroy(h));
	CHECK_RT(cudaStreamDestroy(st));
	if (failed)
		return 1;
	printf("cudnn_graph: all verified\n");
	return 0;
}
