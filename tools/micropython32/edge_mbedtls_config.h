// mbedtls configuration of tools/build_micropython32.sh --mbedtls: the unix port's own
// (ports/unix/mbedtls/mbedtls_config_port.h -> extmod/mbedtls/mbedtls_config_common.h:
// TLS 1.2 client, IN_CONTENT_LEN 16 KB, OUT_CONTENT_LEN 4 KB, as ESP-IDF with MicroPython's
// CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN), with its calloc/free counted (tlsmem/tlsmem.c), and
// the broker's certificate kept after the handshake as ESP-IDF does by default
// (CONFIG_MBEDTLS_SSL_KEEP_PEER_CERTIFICATE=y, components/mbedtls/Kconfig; MicroPython's
// esp32 sdkconfig.base leaves it on, its unix config off).
#ifndef EDGE_MBEDTLS_CONFIG_H
#define EDGE_MBEDTLS_CONFIG_H
#include "mbedtls/mbedtls_config_port.h"
#include <stddef.h>
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#ifdef EDGE_MBEDTLS_IN_GC_HEAP
// --mbedtls-in-gc: mbedtls in the GC heap, as the bare-metal ports have it
// (extmod/mbedtls/mbedtls_config_common.h, MICROPY_MBEDTLS_CONFIG_BARE_METAL): one heap that
// -X heapsize bounds, fragmentation included
void *m_tracked_calloc(size_t nmemb, size_t size);
void m_tracked_free(void *ptr);
#define MBEDTLS_PLATFORM_STD_CALLOC m_tracked_calloc
#define MBEDTLS_PLATFORM_STD_FREE m_tracked_free
#else
void *edge_tls_calloc(size_t nmemb, size_t size);
void edge_tls_free(void *ptr);
#define MBEDTLS_PLATFORM_STD_CALLOC edge_tls_calloc
#define MBEDTLS_PLATFORM_STD_FREE edge_tls_free
#endif
#endif
