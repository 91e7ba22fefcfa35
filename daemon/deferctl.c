/* SPDX-License-Identifier: MIT */
/* deferctl: placeholder main, replaced by the daemon. */
#include "log.h"

int
main(void)
{
	log_init("deferctl");
	return (0);
}
