// SPDX-License-Identifier: GPL-2.0
/*
 * The uapi header must compile on its own, first and alone, in strict C.
 */
#include <linux/vde.h>

int vde_uapi_alone(void);
int vde_uapi_alone(void)
{
	return VDE_ABI_VERSION;
}
