/*
 * hist.c — log-linear latency histogram (see hist.h for the layout).
 *
 * A value v below 32 is its own bucket. Above, with e the index of its top
 * bit, the group is e - 4 and the sub-bucket the 5 bits under the top bit:
 * bucket = (e - 4) * 32 + (v >> (e - 5)) - 32, which continues the identity
 * range without a gap (v = 32..63 land in buckets 32..63).
 */
#include "hist.h"

#include <string.h>

static unsigned bucket_of(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned) v;
    unsigned e = 63u - (unsigned) __builtin_clzll(v);
    return (e - HIST_SUB_BITS + 1) * HIST_SUB + (unsigned) (v >> (e - HIST_SUB_BITS)) - HIST_SUB;
}

static uint64_t bucket_low(unsigned b)
{
    if (b < HIST_SUB)
        return b;
    unsigned group = b / HIST_SUB, sub = b % HIST_SUB;
    return (uint64_t) (HIST_SUB + sub) << (group - 1);
}

static uint64_t bucket_width(unsigned b)
{
    return b < HIST_SUB ? 1 : (uint64_t) 1 << (b / HIST_SUB - 1);
}

void hist_init(hist_t *self)
{
    memset(self, 0, sizeof *self);
    self->min = UINT64_MAX;
}

void hist_record(hist_t *self, uint64_t value)
{
    self->counts[bucket_of(value)]++;
    self->total++;
    self->sum += (double) value;
    if (value < self->min)
        self->min = value;
    if (value > self->max)
        self->max = value;
}

uint64_t hist_quantile(const hist_t *self, double q)
{
    if (!self->total)
        return 0;
    uint64_t rank = (uint64_t) (q * (double) self->total + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > self->total)
        rank = self->total;
    uint64_t seen = 0;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += self->counts[b];
        if (seen >= rank) {
            uint64_t mid = bucket_low(b) + bucket_width(b) / 2;
            /* never report beyond what was actually seen */
            return mid > self->max ? self->max : mid < self->min ? self->min : mid;
        }
    }
    return self->max;
}

double hist_mean(const hist_t *self)
{
    return self->total ? self->sum / (double) self->total : 0.0;
}
