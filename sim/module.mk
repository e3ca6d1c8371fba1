# SPDX-License-Identifier: MIT
# sim build rules (included by the top-level Makefile).
