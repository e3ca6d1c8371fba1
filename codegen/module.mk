# SPDX-License-Identifier: MIT
# codegen build rules (included by the top-level Makefile).
