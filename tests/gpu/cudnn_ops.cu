// SPDX-License-Identifier: MIT
// cudnn_ops — cuDNN's legacy API as a training step of a small convolutional layer uses it:
// convolution forward (implicit GEMM, precomputed implicit GEMM, GEMM, non-fused Winograd),
// backward data and
// backward filter, bias add, ReLU forward and backward, max and average pooling forward and
// backward, softmax forward, sigmoid and tanh, each checked against a host computation.
// Data are small integers and halves, so convolutions, pooling and additions are exact in
// float and must equal the host's bit for bit (Winograd's transforms round: within 1e-4);
// transcendental ones are checked to 1e-6.
// Prints the same lines on every run, so the output directly and through vgpu can be diffed.
// Exit 0 = all verified, 1 = a failure, 3 = the device cannot run cuDNN's kernels.
#include <cudnn.h>
#include <vector>
#include "gpucheck.h"

#define CHECK_DNN(call) CHECK_LIB("cuDNN", cudnnStatus_t, CUDNN_STATUS_SUCCESS, cudnnGetErrorString, call)

/* NCHW sizes of the layer: input N x C x H x W, K filters of C x R x S, stride 1, padding 1 */
static const int N = 2, C = 3, H = 9, W = 8, K = 4, R = 3, S = 3, PAD = 1;
static const int OH = H + 2 * PAD - R + 1, OW = W + 2 * PAD - S + 1;

static std::vector<float> pattern(size_t n, int mod, int off, float scale)
{
	std::vector<float> v(n);
	for (size_t i = 0; i < n; i++)
		v[i] = (float)((int)((i * 7 + 3) % mod) - off) * scale;
	return v;
}

static float *dev(const std::vector<float> &v)
{
	float *d;
	CHECK_RT(cudaMalloc(&d, v.size() * sizeof(float)));
	CHECK_RT(cudaMemcpy(d, v.data(), v.size() * sizeof(float), cudaMemcpyHostToDevice));
	return d;
}

static std::vector<float> host(const float *d, size_t n)
{
	std::vector<float> v(n);
	CHECK_RT(cudaMemcpy(v.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
	return v;
}

/* exact (tol 0) or within tol relative to 1 or the value */
static void verify(const char *what, const std::vector<float> &got, const std::vector<float> &want, double tol)
{
	size_t bad = 0;
	for (size_t i = 0; i < got.size(); i++)
		bad += tol == 0 ? got[i] != want[i] :
		       !(std::fabs((double)got[i] - want[i]) <= tol * std::fmax(1.0, std::fabs((double)want[i])));
	if (bad) {
		printf("FAIL %s: %zu of %zu values differ from the host's\n", what, bad, got.size());
		exit(1);
	}
	if (tol == 0)
		printf("%s: %zu values verified exactly\n", what, got.size());
	else
		printf("%s: %zu values verified within %g\n", what, got.size(), tol);
}

static cudnnTensorDescriptor_t tensor(int n, int c, int h, int w)
{
	cudnnTensorDescriptor_t t;
	CHECK_DNN(cudnnCreateTensorDescriptor(&t));
	CHECK_DNN(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
	return t;
}

int main()
{
	CHECK_RT(cudaSetDevice(0));
	cudnnHandle_t h;
	CHECK_DNN(cudnnCreate(&h));
	cudaStream_t st;
	CHECK_RT(cudaStreamCreate(&st));
	CHECK_DNN(cudnnSetStream(h, st));
	const float one = 1, zero = 0;

	std::vector<float> x = pattern((size_t)N * C * H * W, 9, 4, 1.0f), w = pattern((size_t)K * C * R * S, 5, 2, 0.5f);
	std::vector<float> bias = pattern(K, 3, 1, 1.0f), dy = pattern((size_t)N * K * OH * OW, 7, 3, 0.5f);
	float *dx = dev(x), *dw = dev(w), *dbias = dev(bias), *ddy = dev(dy);
	cudnnTensorDescriptor_t tx = tensor(N, C, H, W), ty = tensor(N, K, OH, OW), tb = tensor(1, K, 1, 1);
	cudnnFilterDescriptor_t fw;
	CHECK_DNN(cudnnCreateFilterDescriptor(&fw));
	CHECK_DNN(cudnnSetFilter4dDescriptor(fw, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, K, C, R, S));
	cudnnConvolutionDescriptor_t cd;
	CHECK_DNN(cudnnCreateConvolutionDescriptor(&cd));
	CHECK_DNN(cudnnSetConvolution2dDescriptor(cd, PAD, PAD, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));

	/* the host's convolution, its gradients and the bias add */
	auto X = [&](int n, int c, int i, int j) { return i < 0 || j < 0 || i >= H || j >= W ? 0.0f : x[((size_t)(n * C + c) * H + i) * W + j]; };
	std::vector<float> y((size_t)N * K * OH * OW), gx(x.size(), 0.0f), gw(w.size(), 0.0f);
	for (int n = 0; n < N; n++)
		for (int k = 0; k < K; k++)
			for (int i = 0; i < OH; i++)
				for (int j = 0; j < OW; j++) {
					float acc = 0, g = dy[((size_t)(n * K + k) * OH + i) * OW + j];
					for (int c = 0; c < C; c++)
						for (int r = 0; r < R; r++)
							for (int s = 0; s < S; s++) {
								size_t wi = ((size_t)(k * C + c) * R + r) * S + s;
								int ii = i - PAD + r, jj = j - PAD + s;
								acc += X(n, c, ii, jj) * w[wi];
								if (ii >= 0 && jj >= 0 && ii < H && jj < W)
									gx[((size_t)(n * C + c) * H + ii) * W + jj] += g * w[wi];
								gw[wi] += g * X(n, c, ii, jj);
							}
					y[((size_t)(n * K + k) * OH + i) * OW + j] = acc;
				}

	/* 1. forward with six algorithms; the transforms of Winograd's and the FFTs round, so
	 * they are checked within 1e-4 of the magnitude (the others exactly), and a device whose
	 * cuDNN has no such kernel for this shape says so */
	static const struct { cudnnConvolutionFwdAlgo_t a; const char *name; double tol; } fwd[] = {
		{ CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, "Winograd (non-fused)", 1e-4 },
		{ CUDNN_CONVOLUTION_FWD_ALGO_FFT, "FFT", 1e-4 },
		{ CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING, "FFT (tiled)", 1e-4 },
		{ CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, "implicit GEMM", 0 },
		{ CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, "precomputed implicit GEMM", 0 },
		{ CUDNN_CONVOLUTION_FWD_ALGO_GEMM, "GEMM", 0 },   /* last: the steps below use its exact output */
	};
	float *dyo;
	CHECK_RT(cudaMalloc(&dyo, y.size() * sizeof(float)));
	for (const auto &f : fwd) {
		size_t ws = 0;
		char what[96];
		snprintf(what, sizeof(what), "convolution forward, %s", f.name);
		cudnnStatus_t wst = cudnnGetConvolutionForwardWorkspaceSize(h, tx, fw, cd, ty, f.a, &ws);
		if (wst == CUDNN_STATUS_NOT_SUPPORTED && f.tol != 0) {
			printf("%s: not supported for this shape by this cuDNN and device\n", what);
			continue;
		}
		CHECK_DNN(wst);
		void *wsp = NULL;
		CHECK_RT(cudaMalloc(&wsp, ws + 1));
		CHECK_RT(cudaMemset(dyo, 0xff, y.size() * sizeof(float)));
		CHECK_DNN(cudnnConvolutionForward(h, &one, tx, dx, fw, dw, cd, f.a, wsp, ws, &zero, ty, dyo));
		CHECK_RT(cudaStreamSynchronize(st));
		verify(what, host(dyo, y.size()), y, f.tol);
		CHECK_RT(cudaFree(wsp));
	}

	/* 2. bias add (y += bias per channel) and ReLU forward and backward on it */
	CHECK_DNN(cudnnAddTensor(h, &one, tb, dbias, &one, ty, dyo));
	std::vector<float> yb(y);
	for (size_t i = 0; i < yb.size(); i++)
		yb[i] += bias[(i / ((size_t)OH * OW)) % K];
	verify("bias add", host(dyo, y.size()), yb, 0);
	cudnnActivationDescriptor_t act;
	CHECK_DNN(cudnnCreateActivationDescriptor(&act));
	CHECK_DNN(cudnnSetActivationDescriptor(act, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0));
	float *drelu, *dgrelu;
	CHECK_RT(cudaMalloc(&drelu, y.size() * sizeof(float)));
	CHECK_RT(cudaMalloc(&dgrelu, y.size() * sizeof(float)));
	CHECK_DNN(cudnnActivationForward(h, act, &one, ty, dyo, &zero, ty, drelu));
	CHECK_DNN(cudnnActivationBackward(h, act, &one, ty, drelu, ty, ddy, ty, dyo, &zero, ty, dgrelu));
	std::vector<float> relu(yb), grelu(yb);
	for (size_t i = 0; i < yb.size(); i++) {
		relu[i] = yb[i] > 0 ? yb[i] : 0;
		grelu[i] = yb[i] > 0 ? dy[i] : 0;
	}
	verify("ReLU forward", host(drelu, y.size()), relu, 0);
	verify("ReLU backward", host(dgrelu, y.size()), grelu, 0);

	/* 3. backward data and backward filter of the convolution */
	size_t ws = 0;
	CHECK_DNN(cudnnGetConvolutionBackwardDataWorkspaceSize(h, fw, ty, cd, tx, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, &ws));
	void *wsp = NULL;
	CHECK_RT(cudaMalloc(&wsp, ws + 1));
	float *dgx, *dgw;
	CHECK_RT(cudaMalloc(&dgx, x.size() * sizeof(float)));
	CHECK_RT(cudaMalloc(&dgw, w.size() * sizeof(float)));
	CHECK_DNN(cudnnConvolutionBackwardData(h, &one, fw, dw, ty, ddy, cd, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, wsp, ws,
					       &zero, tx, dgx));
	CHECK_RT(cudaFree(wsp));
	verify("convolution backward data", host(dgx, x.size()), gx, 0);
	CHECK_DNN(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, tx, ty, cd, fw, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, &ws));
	CHECK_RT(cudaMalloc(&wsp, ws + 1));
	CHECK_DNN(cudnnConvolutionBackwardFilter(h, &one, tx, dx, ty, ddy, cd, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, wsp, ws,
						 &zero, fw, dgw));
	CHECK_RT(cudaFree(wsp));
	verify("convolution backward filter", host(dgw, w.size()), gw, 0);

	/* 4. 2x2 max and average pooling of the ReLU output, forward and backward */
	const int PH = OH / 2, PW = OW / 2;
	cudnnTensorDescriptor_t tp = tensor(N, K, PH, PW);
	std::vector<float> gp = pattern((size_t)N * K * PH * PW, 5, 2, 1.0f);
	float *dp, *dgp = dev(gp), *dgin;
	CHECK_RT(cudaMalloc(&dp, gp.size() * sizeof(float)));
	CHECK_RT(cudaMalloc(&dgin, y.size() * sizeof(float)));
	for (int avg = 0; avg < 2; avg++) {
		cudnnPoolingDescriptor_t pd;
		CHECK_DNN(cudnnCreatePoolingDescriptor(&pd));
		CHECK_DNN(cudnnSetPooling2dDescriptor(pd, avg ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING : CUDNN_POOLING_MAX,
						      CUDNN_NOT_PROPAGATE_NAN, 2, 2, 0, 0, 2, 2));
		CHECK_DNN(cudnnPoolingForward(h, pd, &one, ty, drelu, &zero, tp, dp));
		CHECK_DNN(cudnnPoolingBackward(h, pd, &one, tp, dp, tp, dgp, ty, drelu, &zero, ty, dgin));
		std::vector<float> p(gp.size()), gin(y.size(), 0.0f);
		for (int b = 0; b < N * K; b++)
			for (int i = 0; i < PH; i++)
				for (int j = 0; j < PW; j++) {
					float m = -1e30f, sum = 0;
					int mi = 0;
					for (int d = 0; d < 4; d++) {
						int idx = (b * OH + 2 * i + d / 2) * OW + 2 * j + d % 2;
						sum += relu[idx];
						if (relu[idx] > m)
							m = relu[idx], mi = idx;
					}
					float g = gp[(b * PH + i) * PW + j];
					p[(b * PH + i) * PW + j] = avg ? sum / 4 : m;
					if (avg)
						for (int d = 0; d < 4; d++)
							gin[(b * OH + 2 * i + d / 2) * OW + 2 * j + d % 2] = g / 4;
					else
						gin[mi] = g;
				}
		verify(avg ? "average pooling forward" : "max pooling forward", host(dp, p.size()), p, 0);
		/* max pooling's gradient goes to one of equal maxima: compare its sums per window */
		std::vector<float> got = host(dgin, y.size());
		if (!avg) {
			std::vector<float> gs(gp.size(), 0.0f), ws2(gp.size(), 0.0f);
			for (int b = 0; b < N * K; b++)
				for (int i = 0; i < PH * 2; i++)
					for (int j = 0; j < PW * 2; j++) {
						size_t o = (size_t)(b * PH + i / 2) * PW + j / 2, idx = (size_t)(b * OH + i) * OW + j;
						gs[o] += got[idx];
						ws2[o] += gin[idx];
					}
			verify("max pooling backward (per window)", gs, ws2, 0);
		} else {
			verify("average pooling backward", got, gin, 0);
		}
		CHECK_DNN(cudnnDestroyPoolingDescriptor(pd));
	}

	/* 5. softmax over the channels, sigmoid and tanh of the convolution output */
	float *dsm;
	CHECK_RT(cudaMalloc(&dsm, y.size() * sizeof(float)));
	CHECK_DNN(cudnnSoftmaxForward(h, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL, &one, ty, dyo, &zero, ty, dsm));
	std::vector<float> sm(yb.size());
	for (int n = 0; n < N; n++)
		for (int p = 0; p < OH * OW; p++) {
			double m = -1e30, sum = 0;
			for (int k = 0; k < K; k++)
				m = std::fmax(m, yb[(size_t)(n * K + k) * OH * OW + p]);
			for (int k = 0; k < K; k++)
				sum += std::exp(yb[(size_t)(n * K + k) * OH * OW + p] - m);
			for (int k = 0; k < K; k++)
				sm[(size_t)(n * K + k) * OH * OW + p] = (float)(std::exp(yb[(size_t)(n * K + k) * OH * OW + p] - m) / sum);
		}
	verify("softmax forward", host(dsm, sm.size()), sm, 1e-6);
	static const struct { cudnnActivationMode_t m; const char *name; } fns[] = {
		{ CUDNN_ACTIVATION_SIGMOID, "sigmoid forward" }, { CUDNN_ACTIVATION_TANH, "tanh forward" },
	};
	for (const auto &f : fns) {
		CHECK_DNN(cudnnSetActivationDescriptor(act, f.m, CUDNN_NOT_PROPAGATE_NAN, 0));
		CHECK_DNN(cudnnActivationForward(h, act, &one, ty, dyo, &zero, ty, dsm));
		std::vector<float> want(yb.size());
		for (size_t i = 0; i < yb.size(); i++)
			want[i] = f.m == CUDNN_ACTIVATION_TANH ? (float)std::tanh((double)yb[i]) : (float)(1.0 / (1.0 + std::exp(-(double)yb[i])));
		verify(f.name, host(dsm, want.size()), want, 1e-6);
	}

	CHECK_RT(cudaStreamSynchronize(st));
	for (cudnnTensorDescriptor_t t : { tx, ty, tb, tp })
		CHECK_DNN(cudnnDestroyTensorDescriptor(t));
	CHECK_DNN(cudnnDestroyFilterDescriptor(fw));
	CHECK_DNN(cudnnDestroyConvolutionDescriptor(cd));
	CHECK_DNN(cudnnDestroyActivationDescriptor(act));
	for (float *p : { dx, dw, dbias, ddy, dyo, drelu, dgrelu, dgx, dgw, dp, dgp, dgin, dsm })
		CHECK_RT(cudaFree(p));
	CHECK_DNN(cudnnDestroy(h));
	CHECK_RT(cudaStreamDestroy(st));
	printf("cudnn_ops: all verified\n");
	return 0;
}
