# SPDX-License-Identifier: MIT
# libvgpu build rules (included by the top-level Makefile).
