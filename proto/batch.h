/*
 * batch.h — several envelopes in one ZeroMQ message (proto/README.md, "Batches").
 *
 * Over CURVE every ZeroMQ message is boxed on its own (a salsa20/poly1305
 * pass and a key expansion, ~4,000 instructions for a small envelope: most
 * of the broker's work per routed envelope, docs/benchmarks.md), and every
 * message pays its own pipe hand-off to the I/O thread. So what the broker
 * sends one peer in one loop turn leaves as one message: one box, one
 * wake-up, however many envelopes.
 *
 * A batch is the msgpack array [version, CX_PROTO_BATCH, bin, bin, ...]: each
 * bin holds one complete encoded envelope, never another batch. The framing
 * (lengths) is all a batch adds, so each envelope inside is decoded on its
 * own: a malformed one is refused by the decoder as it would be alone, and
 * its neighbours are read as if they had come one per message. Only broken
 * framing (a length past the end) ends the rest of that batch.
 *
 * A batch goes only to a peer whose HELLO said it reads them
 * (CX_HELLO_READS_BATCH, proto/envelope.h): a peer built before batches never
 * sees one.
 */
#ifndef CX_PROTO_BATCH_H
#define CX_PROTO_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* The type number of a batch: outside the envelope types, so the envelope decoder refuses it. */
#define CX_PROTO_BATCH 64
/* A batch is sent before it would pass this many bytes (a bigger envelope leaves on its own). */
#define CX_BATCH_MAX_BYTES (256u * 1024u)
/* What each envelope adds to a batch besides its own bytes (its bin32 header). */
#define CX_BATCH_FRAMING 5u

/* ------------------------------------------------------------ building */

typedef struct cx_batch cx_batch;
cx_batch *cx_batch_new(void);
void cx_batch_destroy(cx_batch **self_p);
/* Appends one encoded envelope (copied); 0, or -1 without memory. */
int cx_batch_add(cx_batch *self, const void *env, size_t len);
/* Envelopes held; bytes they would take as one message. */
size_t cx_batch_count(const cx_batch *self);
size_t cx_batch_bytes(const cx_batch *self);
/* The message to send: the envelope itself when there is one, else the batch.
 * Valid until the next add or clear. */
void cx_batch_message(cx_batch *self, const void **data, size_t *len);
void cx_batch_clear(cx_batch *self);

/* ------------------------------------------------------------- reading */

typedef struct {
    const unsigned char *pos;
    size_t left;          /* bytes after pos */
    uint32_t remaining;   /* envelopes the header announced and not yet read */
} cx_batch_reader;

/* 1 when buf is a batch (its header names CX_PROTO_BATCH), reader then at its first envelope;
 * 0 when it is not (an envelope alone). */
int cx_batch_open(cx_batch_reader *reader, const void *buf, size_t len);
/* The next envelope's bytes: 1, 0 at the end, -1 when the framing is broken (the rest is lost). */
int cx_batch_next(cx_batch_reader *reader, const void **env, size_t *len);

#endif
