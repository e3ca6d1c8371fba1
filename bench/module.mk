# SPDX-License-Identifier: MIT
# bench build rules (included by the top-level Makefile).
