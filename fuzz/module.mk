# SPDX-License-Identifier: MIT
# fuzz build rules (included by the top-level Makefile).
