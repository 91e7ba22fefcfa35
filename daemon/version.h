/* SPDX-License-Identifier: MIT */
/* The one place the version of deferd and deferctl is written. */
#ifndef DEFERD_VERSION_H
#define DEFERD_VERSION_H

#define DEFERD_VERSION	"0.1.0"

#endif
