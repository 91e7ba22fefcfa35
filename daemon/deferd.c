/* SPDX-License-Identifier: MIT */
/* deferd: placeholder main, replaced by the daemon. */
#include "log.h"

int
main(void)
{
	log_init("deferd");
	return (0);
}
