# tools/build_micropython32.sh --mbedtls: the counting allocator mbedtls uses (tlsmem.c)
TLSMEM_DIR := $(USERMOD_DIR)
SRC_USERMOD += $(TLSMEM_DIR)/tlsmem.c
