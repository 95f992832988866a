// SPDX-License-Identifier: MIT
// Intentionally empty: FuzzDriver only publishes the declaration in its header.
#include "FuzzDriver.h"
