/*
 * file_digest.c — a file's content digest (see file_digest.h).
 *
 * Why content and not the file's inode: deploy tools publish a plugin by
 * writing it elsewhere and renaming it into place, so every deploy makes a
 * new inode, including a redeploy of the very bytes that crashed. The worker
 * supervisor's quarantine (workers/quarantine.c) must tell a fix from the
 * same file shipped again, so both the supervisor and its worker processes
 * name a plugin version by the digest of its bytes.
 *
 * BLAKE2b from libb2 (already a dependency for topic names): fast, and a
 * 256-bit digest leaves no practical chance that two versions collide.
 * Read in 16 KiB blocks: plugins are megabytes at most, read once a deploy.
 */
#include "common/file_digest.h"

#include <blake2.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define DIGEST_BYTES 32

static void to_hex(const uint8_t *digest, char out[CX_FILE_DIGEST_HEX])
{
    for (int i = 0; i < DIGEST_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

int cx_file_digest(const char *path, char out[CX_FILE_DIGEST_HEX])
{
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    blake2b_state state;
    blake2b_init(&state, DIGEST_BYTES);
    uint8_t block[16384];
    ssize_t n;
    while ((n = read(fd, block, sizeof block)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            blake2b_update(&state, block, (size_t) n);
    int saved = errno;
    close(fd);
    if (n < 0) {
        errno = saved;
        return -1;
    }
    uint8_t digest[DIGEST_BYTES];
    blake2b_final(&state, digest, DIGEST_BYTES);
    to_hex(digest, out);
    return 0;
}
