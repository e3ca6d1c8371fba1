# SPDX-License-Identifier: MIT
# runtime build rules (included by the top-level Makefile).
