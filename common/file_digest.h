/*
 * file_digest.h — a file's content digest: what "a new version of a plugin
 * file" means (see file_digest.c).
 */
#ifndef CX_COMMON_FILE_DIGEST_H
#define CX_COMMON_FILE_DIGEST_H

/* BLAKE2b-256 as 64 lowercase hex digits and a NUL. */
#define CX_FILE_DIGEST_HEX 65

/* Digest of the bytes of the file at path, written as hex into out. Returns 0, or -1 with out ""
 * when the file cannot be read (errno says why). */
int cx_file_digest(const char *path, char out[CX_FILE_DIGEST_HEX]);

#endif
