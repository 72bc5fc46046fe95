// tlsmem: the bytes mbedtls holds, for `edgectl bench tls-heap` on the unix port built by
// tools/build_micropython32.sh --mbedtls. On an ESP32 mbedtls allocates from the ESP-IDF heap
// (CONFIG_MBEDTLS_DEFAULT_MEM_ALLOC: esp_mbedtls_mem_calloc), not from MicroPython's GC heap; the
// unix port's standard build calls libc calloc directly, so neither gc.mem_free() nor -X heapsize
// sees it. edge_mbedtls_config.h points MBEDTLS_PLATFORM_STD_CALLOC/FREE here: libc calloc with
// the size kept in a header, counted. Python: tlsmem.stats() -> (in use, peak, allocations,
// largest block, blocks live at the peak); tlsmem.reset_peak(); tlsmem.limit(bytes) (0: none) refuses an allocation that
// would take the bytes in use past it, as a board's heap running out would. tlsmem.HEAP says
// where mbedtls allocates: 'calloc' (counted here) or 'gc' (built with --mbedtls-in-gc: the GC
// heap, through m_tracked_calloc; nothing counted here, stats() is None).
#include <stdlib.h>
#include <stdint.h>
#include "py/runtime.h"

typedef struct { size_t n; size_t pad[3]; } tm_hdr_t;    // 16 bytes: malloc's alignment kept

static size_t tm_now, tm_peak, tm_allocs, tm_largest, tm_limit, tm_live, tm_peak_live;

void *edge_tls_calloc(size_t nmemb, size_t size) {
    if (size && nmemb > (SIZE_MAX - sizeof(tm_hdr_t)) / size) {
        return NULL;
    }
    size_t n = nmemb * size;
    if (tm_limit && tm_now + n > tm_limit) {
        return NULL;
    }
    tm_hdr_t *h = calloc(1, sizeof(tm_hdr_t) + n);
    if (h == NULL) {
        return NULL;
    }
    h->n = n;
    tm_now += n;
    tm_allocs++;
    tm_live++;
    if (tm_now > tm_peak) {
        tm_peak = tm_now;
        tm_peak_live = tm_live;
    }
    if (n > tm_largest) {
        tm_largest = n;
    }
    return h + 1;
}

void edge_tls_free(void *p) {
    if (p == NULL) {
        return;
    }
    tm_hdr_t *h = (tm_hdr_t *)p - 1;
    tm_now -= h->n;
    tm_live--;
    free(h);
}

#ifdef EDGE_MBEDTLS_IN_GC_HEAP
static mp_obj_t tlsmem_stats(void) {
    return mp_const_none;
}
#else
static mp_obj_t tlsmem_stats(void) {
    mp_obj_t t[5] = {mp_obj_new_int_from_uint(tm_now), mp_obj_new_int_from_uint(tm_peak),
                     mp_obj_new_int_from_uint(tm_allocs), mp_obj_new_int_from_uint(tm_largest),
                     mp_obj_new_int_from_uint(tm_peak_live)};
    return mp_obj_new_tuple(5, t);
}
#endif
static MP_DEFINE_CONST_FUN_OBJ_0(tlsmem_stats_obj, tlsmem_stats);

static mp_obj_t tlsmem_reset_peak(void) {
    tm_peak = tm_now;
    tm_peak_live = tm_live;
    tm_largest = 0;
    tm_allocs = 0;
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_0(tlsmem_reset_peak_obj, tlsmem_reset_peak);

static mp_obj_t tlsmem_limit(mp_obj_t n) {
    tm_limit = mp_obj_get_int(n);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(tlsmem_limit_obj, tlsmem_limit);

static const mp_rom_map_elem_t tlsmem_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_tlsmem) },
    { MP_ROM_QSTR(MP_QSTR_stats), MP_ROM_PTR(&tlsmem_stats_obj) },
    #ifdef EDGE_MBEDTLS_IN_GC_HEAP
    { MP_ROM_QSTR(MP_QSTR_HEAP), MP_ROM_QSTR(MP_QSTR_gc) },
    #else
    { MP_ROM_QSTR(MP_QSTR_HEAP), MP_ROM_QSTR(MP_QSTR_calloc) },
    #endif
    { MP_ROM_QSTR(MP_QSTR_reset_peak), MP_ROM_PTR(&tlsmem_reset_peak_obj) },
    { MP_ROM_QSTR(MP_QSTR_limit), MP_ROM_PTR(&tlsmem_limit_obj) },
};
static MP_DEFINE_CONST_DICT(tlsmem_globals, tlsmem_globals_table);

const mp_obj_module_t tlsmem_module = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&tlsmem_globals,
};

MP_REGISTER_MODULE(MP_QSTR_tlsmem, tlsmem_module);
