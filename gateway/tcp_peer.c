/*
 * tcp_peer.c — SIOCOUTQ and TCP_INFO for the gateway (see tcp_peer.h).
 *
 * <linux/tcp.h> rather than glibc's <netinet/tcp.h>: glibc's struct tcp_info
 * stops before tcpi_bytes_acked and tcpi_bytes_received (Linux 4.1+), and
 * the two headers cannot be included together, hence a file of its own.
 */
#include "gateway/tcp_peer.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

size_t cx_tcp_unacked(int fd)
{
    int queued = 0;
    if (fd < 0 || ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0)
        return 0;
    return (size_t) queued;
}

int cx_tcp_progress_read(int fd, cx_tcp_progress *out)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset(&info, 0, sizeof info);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return -1;
    /* An older kernel fills less: the fields it lacks stay 0, which reads as "no progress". */
    out->acked = info.tcpi_bytes_acked;
    out->received = info.tcpi_bytes_received;
    out->notsent = info.tcpi_notsent_bytes;
    return 0;
}

int cx_tcp_gone(int fd)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset(&info, 0, sizeof info);
    if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return 1;
    enum { STATE_CLOSE = 7 };   /* TCP_CLOSE of the kernel's tcp_states.h (netinet/tcp.h clashes with linux/tcp.h) */
    return info.tcpi_state == STATE_CLOSE;
}
