# SPDX-License-Identifier: MIT
# proxy build rules (included by the top-level Makefile).
