/* The encoders' table: every encoder mediagate drives is one row. */
#include "encoders/encoder.h"

#include <stdio.h>
#include <string.h>

const encoder *const encoders[] = {&encoder_local, &encoder_mediaconvert, &encoder_zencoder,
                                   &encoder_mux, &encoder_tencent};
const size_t encoders_count = sizeof encoders / sizeof encoders[0];

const encoder *encoder_find(const char *name)
{
    for (size_t i = 0; name && i < encoders_count; i++)
        if (strcmp(encoders[i]->name, name) == 0)
            return encoders[i];
    return NULL;
}

const encoder *encoder_for_kind(const char *kind)
{
    for (size_t i = 0; kind && i < encoders_count; i++)
        if (encoders[i]->create_kind && strcmp(encoders[i]->create_kind, kind) == 0)
            return encoders[i];
    return NULL;
}

void encoder_array(char *out, size_t cap, const char *(*pick)(const encoder *e))
{
    size_t l = (size_t)snprintf(out, cap, "{");
    for (size_t i = 0; i < encoders_count && l < cap; i++)
        if (pick(encoders[i]))
            l += (size_t)snprintf(out + l, cap - l, "%s\"%s\"", l > 1 ? "," : "", pick(encoders[i]));
    if (l < cap)
        snprintf(out + l, cap - l, "}");
}

const char *encoder_pick_create_kind(const encoder *e)
{
    return e->create_kind;
}

const char *encoder_pick_canceler(const encoder *e)
{
    return e->cancel ? e->name : NULL;
}
