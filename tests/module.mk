# SPDX-License-Identifier: MIT
# tests build rules (included by the top-level Makefile).
