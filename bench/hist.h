/*
 * hist — an HDR-like latency histogram with log-linear buckets.
 *
 * Design: values (nanoseconds) fall into buckets whose width doubles every
 * power of two, each power split into 32 linear sub-buckets, so any value is
 * known to within ~3% while the whole range 1 ns .. 2^63 ns fits in a fixed
 * array of ~1,900 counters. Recording is an index computation and an
 * increment: no allocation per sample, no sorting, and two histograms merge
 * by adding counters. Min, max and the mean are kept exactly.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
    uint64_t min, max;
    double sum;
} hist_t;

void hist_init(hist_t *self);
void hist_record(hist_t *self, uint64_t value);
/* The value at quantile q (0..1), as its bucket's midpoint; 0 when empty. */
uint64_t hist_quantile(const hist_t *self, double q);
double hist_mean(const hist_t *self);

#endif
