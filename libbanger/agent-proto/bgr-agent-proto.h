/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The wire format between banger (host) and banger-vsock-agent (guest).
 * Plain C11 + libc only: this file and bgr-agent-proto.c are compiled into
 * both libbanger and the static agent. The protocol is described for
 * humans in docs/agent-protocol.md; keep the two in step.
 *
 * A connection is a byte stream (virtio-serial port, vsock, or a socketpair
 * in tests) carrying frames. Each frame is a 16-byte header followed by
 * `length` payload bytes. All integers are little-endian.
 *
 *   offset size  field
 *   0      4     magic   0x31524742 ("BGR1" as bytes 'B' 'G' 'R' '1')
 *   4      2     type    BgrAgentMsgType
 *   6      2     flags   0 (reserved; receivers ignore unknown bits)
 *   8      4     channel 0 = control; N > 0 = one exec (chosen by the host)
 *   12     4     length  payload bytes, at most BGR_AGENT_MAX_PAYLOAD
 *
 * Control payloads (everything except the DATA_* types) are a sequence of
 * fields: tag u16, length u32, value. Strings are UTF-8 without a NUL;
 * integers are 8-byte signed. A tag may repeat (ARG, ENV, ADDR, PORT).
 * Receivers skip fields with tags they do not know (forward compatible).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BGR_AGENT_MAGIC 0x31524742u
#define BGR_AGENT_HEADER_SIZE 16
#define BGR_AGENT_MAX_PAYLOAD (1024u * 1024u)
/* 2: sessions (SESSION_* below). Agent and host refuse each other across
 * versions at HELLO/READY (docs/agent-protocol.md, "Version negotiation"). */
#define BGR_AGENT_PROTOCOL_VERSION 2
/* AF_VSOCK port the agent listens on (Firecracker hybrid vsock). */
#define BGR_AGENT_VSOCK_PORT 1024
/* Name of the virtio-serial port (QEMU): /sys/class/virtio-ports/X/name. */
#define BGR_AGENT_SERIAL_NAME "org.banger.agent.0"
/* Where banger installs the agent inside a VM's rootfs. */
#define BGR_AGENT_GUEST_PATH "/.banger/banger-vsock-agent"
/* Set (kernel command line, then init's environment) to the work disk's
 * device when the VM has one: the agent mounts it on /root before the
 * image's init runs (docs/vms.md, "What lives where"). */
#define BGR_AGENT_WORK_ENV "banger_work"
/* Set (kernel command line, then init's environment) to the VM's name: the
 * agent makes it the guest's hostname and /etc/hostname before the image's
 * init runs (docs/vms.md, "Hostname"). */
#define BGR_AGENT_HOSTNAME_ENV "banger_hostname"
/* A file of this name at the top of the work disk: the host wrote into a
 * fresh work disk before the boot (vm run's workspace); the agent still
 * copies the image's /root onto it as onto an empty one, then removes it. */
#define BGR_AGENT_WORK_SEED_MARKER ".banger-seed"
/* The first bytes of the work disk while the host still writes into it
 * (vm run writes the workspace as the guest boots): the agent waits until
 * they are gone before it mounts the disk. ext4 leaves the first 1024
 * bytes of a disk unused. */
#define BGR_AGENT_WORK_BUSY_MARK "banger: the host is writing this work disk\n"

typedef enum {
  BGR_AGENT_MSG_HELLO = 1,       /* host->agent, ch 0: VERSION. Agent answers READY. */
  BGR_AGENT_MSG_READY = 2,       /* agent->host, ch 0: VERSION, AGENT_VERSION, facts */
  BGR_AGENT_MSG_EXEC = 3,        /* host->agent, ch N: ARG+, ENV*, CWD?, TIMEOUT_MS?, STDIN? */
  BGR_AGENT_MSG_STARTED = 4,     /* agent->host, ch N: PID */
  BGR_AGENT_MSG_STDIN = 5,       /* host->agent, ch N: raw bytes; empty payload = EOF */
  BGR_AGENT_MSG_STDOUT = 6,      /* agent->host, ch N: raw bytes */
  BGR_AGENT_MSG_STDERR = 7,      /* agent->host, ch N: raw bytes */
  BGR_AGENT_MSG_EXIT = 8,        /* agent->host, ch N: EXIT_CODE, SIGNAL, TIMED_OUT; ends ch */
  BGR_AGENT_MSG_ERROR = 9,       /* agent->host, ch N or 0: MESSAGE, ERRNO?; ends ch N */
  BGR_AGENT_MSG_SIGNAL = 10,     /* host->agent, ch N: SIGNAL (sent to the process group) */
  BGR_AGENT_MSG_SHUTDOWN = 11,   /* host->agent, ch N: MODE ("poweroff"|"reboot"); OK, then does it */
  BGR_AGENT_MSG_OK = 12,         /* agent->host, ch of the request: generic acknowledgement */
  BGR_AGENT_MSG_PING = 13,       /* host->agent, ch N: answered by PONG on ch N */
  BGR_AGENT_MSG_PONG = 14,
  BGR_AGENT_MSG_PORTS_REQ = 15,  /* host->agent, ch N: answered by PORTS on ch N */
  BGR_AGENT_MSG_PORTS = 16,      /* agent->host: PORT* */
  BGR_AGENT_MSG_STATS_REQ = 17,  /* host->agent, ch N: answered by STATS on ch N */
  BGR_AGENT_MSG_STATS = 18,      /* agent->host: STAT_* fields */
  /* Sessions (version 2): processes the agent owns whether or not a host
   * is connected; output spooled in the guest. */
  BGR_AGENT_MSG_SESSION_START = 19,  /* host->agent, ch N: SESSION_NAME, ARG+, ENV*, CWD?, STDIN?, REQUIRE*, LOG_MAX?; SESSIONS */
  BGR_AGENT_MSG_SESSION_LIST = 20,   /* host->agent, ch N: SESSION_NAME? ; SESSIONS */
  BGR_AGENT_MSG_SESSIONS = 21,       /* agent->host: SESSION* (each a nested field list) */
  BGR_AGENT_MSG_SESSION_READ = 22,   /* host->agent, ch N: SESSION_NAME, STREAM, OFFSET?, FOLLOW? */
  BGR_AGENT_MSG_SESSION_LOG = 23,    /* agent->host, ch N: OFFSET, DROPPED; then STDOUT/STDERR frames */
  BGR_AGENT_MSG_SESSION_LOG_END = 24, /* agent->host, ch N: OFFSET (the next one); ends ch */
  BGR_AGENT_MSG_SESSION_ATTACH = 25, /* host->agent, ch N: SESSION_NAME; ATTACHED, then STDOUT/STDERR */
  BGR_AGENT_MSG_SESSION_ATTACHED = 26, /* agent->host, ch N: OFFSETs; EXIT (session ended) or OK (detached) ends ch */
  BGR_AGENT_MSG_DETACH = 27,         /* host->agent, ch N: ends a SESSION_READ follow or an attach */
  BGR_AGENT_MSG_SESSION_SIGNAL = 28, /* host->agent, ch N: SESSION_NAME, SIGNAL; OK */
  BGR_AGENT_MSG_SESSION_STOP = 29,   /* host->agent, ch N: SESSION_NAME, GRACE_MS?; OK (SIGTERM now, SIGKILL later) */
  BGR_AGENT_MSG_WINSIZE = 30,        /* host->agent, attach ch N: ROWS, COLS (reserved for pty sessions; ignored) */
  /* 31 is reserved for CONNECT (a byte stream to a guest port). */
  /* TCP connections in the guest and terminals (40-49; docs/agent-protocol.md,
   * "TCP connections" and "Terminals"). */
  BGR_AGENT_MSG_TCP_CONNECT = 40,   /* host->agent, ch N: TCP_ADDR?, TCP_PORT. CONNECTED or ERROR */
  BGR_AGENT_MSG_TCP_CONNECTED = 41, /* agent->host, ch N: the connection is up */
  BGR_AGENT_MSG_TCP_DATA = 42,      /* both ways, ch N: raw bytes; empty = no more from this side */
  BGR_AGENT_MSG_TCP_CLOSE = 43,     /* host->agent: abort; agent->host: over (MESSAGE?, ERRNO?), ends ch */
  BGR_AGENT_MSG_RESIZE = 44,        /* host->agent, ch N (an EXEC with PTY): ROWS, COLS */
} BgrAgentMsgType;

typedef enum {
  BGR_AGENT_F_VERSION = 1,        /* int: protocol version */
  BGR_AGENT_F_AGENT_VERSION = 2,  /* str: agent build version */
  BGR_AGENT_F_KERNEL = 3,         /* str: uname -r */
  BGR_AGENT_F_UNAME = 4,          /* str: "sysname nodename release version machine" */
  BGR_AGENT_F_OS_ID = 5,          /* str: os-release ID */
  BGR_AGENT_F_OS_VERSION_ID = 6,  /* str: os-release VERSION_ID */
  BGR_AGENT_F_OS_PRETTY = 7,      /* str: os-release PRETTY_NAME */
  BGR_AGENT_F_HOSTNAME = 8,       /* str */
  BGR_AGENT_F_ADDR = 9,           /* str, repeated: "IFACE ADDR/PREFIX" (IPv4 and IPv6, not lo) */
  BGR_AGENT_F_UPTIME_MS = 10,     /* int: guest uptime when READY was sent */
  BGR_AGENT_F_TOOL = 11,          /* str, repeated: a tool of the agent binary (--TOOL), e.g. "assemble-pack" */
  BGR_AGENT_F_ARG = 20,           /* str, repeated: argv in order (argv[0] looked up in PATH) */
  BGR_AGENT_F_ENV = 21,           /* str, repeated: "KEY=VALUE", added to/overriding the default env */
  BGR_AGENT_F_CWD = 22,           /* str: working directory (default "/") */
  BGR_AGENT_F_TIMEOUT_MS = 23,    /* int: kill the process group after this long (0/absent: none) */
  BGR_AGENT_F_STDIN = 24,         /* int: 0 = /dev/null (default), 1 = host sends STDIN frames */
  BGR_AGENT_F_PID = 30,           /* int */
  BGR_AGENT_F_EXIT_CODE = 31,     /* int: exit status, or -1 when killed by a signal */
  BGR_AGENT_F_SIGNAL = 32,        /* int: signal number that killed it, or 0 */
  BGR_AGENT_F_TIMED_OUT = 33,     /* int: 1 when the agent killed it for TIMEOUT_MS */
  BGR_AGENT_F_MESSAGE = 34,       /* str: human-readable error */
  BGR_AGENT_F_ERRNO = 35,         /* int: errno in the guest, when there is one */
  BGR_AGENT_F_MODE = 36,          /* str */
  BGR_AGENT_F_PORT = 40,          /* str, repeated: "PROTO ADDR PORT PID COMMAND" (PROTO tcp|tcp6|udp|udp6; PID 0 / COMMAND "-" when unknown) */
  BGR_AGENT_F_STAT_CPU_USER_MS = 50,   /* int: all CPUs, since boot */
  BGR_AGENT_F_STAT_CPU_SYSTEM_MS = 51, /* int */
  BGR_AGENT_F_STAT_CPU_IDLE_MS = 52,   /* int */
  BGR_AGENT_F_STAT_MEM_TOTAL = 53,     /* int: bytes (MemTotal) */
  BGR_AGENT_F_STAT_MEM_AVAILABLE = 54, /* int: bytes (MemAvailable) */
  BGR_AGENT_F_STAT_LOAD1_MILLI = 55,   /* int: 1-minute load average x 1000 */
  BGR_AGENT_F_STAT_UPTIME_MS = 56,     /* int */
  BGR_AGENT_F_STAT_DISK_TOTAL = 57,    /* int: bytes of the filesystem at / */
  BGR_AGENT_F_STAT_DISK_FREE = 58,     /* int: bytes available at / */
  BGR_AGENT_F_SESSION_NAME = 60,  /* str: [A-Za-z0-9_.-]{1,64}, not starting with '.' or '-' */
  BGR_AGENT_F_SESSION = 61,       /* bytes: one session, a nested field list (SESSIONS) */
  BGR_AGENT_F_STATE = 62,         /* str: "running" or "exited" */
  BGR_AGENT_F_STARTED_MS = 63,    /* int: guest wall clock (Unix ms) at start */
  BGR_AGENT_F_ENDED_MS = 64,      /* int: guest wall clock when it exited; 0 while running */
  BGR_AGENT_F_STREAM = 65,        /* int: 1 = stdout, 2 = stderr */
  BGR_AGENT_F_OFFSET = 66,        /* int: byte offset in a stream (counted from its first byte ever) */
  BGR_AGENT_F_FOLLOW = 67,        /* int: 1 = keep sending until the session ends or DETACH */
  BGR_AGENT_F_DROPPED = 68,       /* int: bytes dropped (spool cap) before OFFSET */
  BGR_AGENT_F_REQUIRE = 69,       /* str, repeated: commands that must be in the session's PATH */
  BGR_AGENT_F_LOG_MAX = 70,       /* int: spool bytes kept per stream */
  BGR_AGENT_F_GRACE_MS = 71,      /* int: SESSION_STOP: SIGKILL this long after SIGTERM */
  BGR_AGENT_F_OUT_END = 72,       /* int: stdout bytes written so far */
  BGR_AGENT_F_OUT_DROPPED = 73,   /* int: stdout bytes dropped so far */
  BGR_AGENT_F_ERR_END = 74,       /* int */
  BGR_AGENT_F_ERR_DROPPED = 75,   /* int */
  BGR_AGENT_F_ATTACHED = 76,      /* int: 1 while a host channel is attached */
  /* 77-79 reserved. SESSION_START with PTY is refused today; WINSIZE
   * carries ROWS and COLS (below) and is ignored. */
  BGR_AGENT_F_TCP_ADDR = 80,      /* str: IPv4/IPv6 address to connect to (default 127.0.0.1) */
  BGR_AGENT_F_TCP_PORT = 81,      /* int: 1-65535 */
  BGR_AGENT_F_PTY = 82,           /* int: EXEC: 1 = run on a new pseudo-terminal (stdin/stdout/stderr) */
  BGR_AGENT_F_ROWS = 83,          /* int: terminal rows (EXEC with PTY, RESIZE) */
  BGR_AGENT_F_COLS = 84,          /* int: terminal columns */
} BgrAgentField;

/* SESSION_START STDIN values and STREAM values. */
#define BGR_AGENT_STDIN_DETACHED 0
#define BGR_AGENT_STDIN_PIPE 1
#define BGR_AGENT_STREAM_STDOUT 1
#define BGR_AGENT_STREAM_STDERR 2
/* Spool per stream: default and bounds of LOG_MAX. */
#define BGR_AGENT_LOG_MAX_DEFAULT (8u * 1024 * 1024)
#define BGR_AGENT_LOG_MAX_MIN (64u * 1024)
#define BGR_AGENT_LOG_MAX_MAX (256u * 1024 * 1024)
#define BGR_AGENT_SESSIONS_MAX 64        /* sessions kept (running or exited) */
#define BGR_AGENT_SESSION_NAME_MAX 64

typedef struct {
  uint16_t type;
  uint16_t flags;
  uint32_t channel;
  uint32_t length;
} BgrAgentHeader;

/* Writes a header into @out. */
void bgr_agent_header_encode (uint8_t out[BGR_AGENT_HEADER_SIZE], uint16_t type, uint32_t channel,
                              uint32_t length);
/* Parses @in. Returns 0, -1 on a bad magic, -2 when length exceeds
 * BGR_AGENT_MAX_PAYLOAD. */
int bgr_agent_header_decode (const uint8_t in[BGR_AGENT_HEADER_SIZE], BgrAgentHeader *out);

/* A growable payload. On allocation failure or when the payload would
 * exceed BGR_AGENT_MAX_PAYLOAD, `failed` is set and later puts do nothing. */
typedef struct {
  uint8_t *data;
  size_t len, cap;
  int failed;
} BgrAgentBuf;

void bgr_agent_buf_init (BgrAgentBuf *b);
void bgr_agent_buf_clear (BgrAgentBuf *b); /* frees data, back to empty */
void bgr_agent_buf_put_bytes (BgrAgentBuf *b, uint16_t tag, const void *data, size_t len);
void bgr_agent_buf_put_str (BgrAgentBuf *b, uint16_t tag, const char *s); /* NULL: nothing */
void bgr_agent_buf_put_int (BgrAgentBuf *b, uint16_t tag, int64_t v);

/* Reading fields from a payload. */
typedef struct {
  const uint8_t *p;
  size_t left;
} BgrAgentFieldIter;

void bgr_agent_fields_init (BgrAgentFieldIter *it, const void *payload, size_t len);
/* 1: a field was read into @tag/@val/@len; 0: end; -1: malformed (a field
 * runs past the end of the payload). */
int bgr_agent_fields_next (BgrAgentFieldIter *it, uint16_t *tag, const uint8_t **val,
                           uint32_t *len);
/* 0 and *out set when @len is 8, else -1. */
int bgr_agent_field_int (const uint8_t *val, uint32_t len, int64_t *out);

/* 1 when @s is a valid session name: 1 to BGR_AGENT_SESSION_NAME_MAX
 * bytes of [A-Za-z0-9_.-], not starting with '.' or '-'. */
int bgr_agent_session_name_valid (const char *s);

/* A name for a message type ("EXEC"), or "unknown". */
const char *bgr_agent_msg_name (uint16_t type);

#ifdef __cplusplus
}
#endif
