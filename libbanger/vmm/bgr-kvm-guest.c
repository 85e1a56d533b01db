/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The KVM probe's test guest: a 64-bit guest run through /dev/kvm in a
 * child process, killed at its deadline (bgr-kvm-guest-private.h). The
 * verdict and its cache are in bgr-kvm-probe.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/bgr-kvm-guest-private.h"

#define KVM_DEVICE "/dev/kvm"
/* ---- the test guest ----------------------------------------------------------
 *
 * 64-bit code, run from a kernel-style address (0xffffffff80001000, the
 * way Linux maps itself) with 4-level paging set up by the host:
 *
 *   0:  31 db              xor   %ebx,%ebx
 *   2:  41 b8 NN NN NN NN  mov   $CHUNKS,%r8d
 *   8:  b9 NN NN NN NN     mov   $ITERATIONS,%ecx     <- next chunk
 *   d:  48 01 cb           add   %rcx,%rbx            <- loop
 *  10:  48 ff c9           dec   %rcx
 *  13:  75 f8              jne   d
 *  15:  44 89 c0           mov   %r8d,%eax
 *  18:  e7 e9              out   %eax,$PORT_PROGRESS  (chunks left)
 *  1a:  41 ff c8           dec   %r8d
 *  1d:  75 e9              jne   8
 *  1f:  89 d8              mov   %ebx,%eax
 *  21:  e7 ea              out   %eax,$PORT_RESULT    (low half of the sum)
 *  23:  f4                 hlt
 *  24:  eb fe              jmp   24                   (the "spin" test entry)
 *
 * CHUNKS x ITERATIONS loop iterations of 3 instructions: about 150 M
 * instructions, which hardware virtualization runs in a few tens of
 * milliseconds (as fast as the host runs them), and an emulating KVM in
 * tens of seconds. The sum is checked so that a guest that only seemed to
 * run does not pass. */
#define CHUNKS 50
#define ITERATIONS 1000000
#define INSNS_PER_CHUNK (3.0 * ITERATIONS)
#define PORT_PROGRESS 0xe9
#define PORT_RESULT 0xea
#define SPIN_OFFSET 0x24

static const guint8 guest_code[] = {
  0x31, 0xdb,
  0x41, 0xb8, CHUNKS & 0xff, (CHUNKS >> 8) & 0xff, (CHUNKS >> 16) & 0xff, (CHUNKS >> 24) & 0xff,
  0xb9, ITERATIONS & 0xff, (ITERATIONS >> 8) & 0xff, (ITERATIONS >> 16) & 0xff,
  (ITERATIONS >> 24) & 0xff,
  0x48, 0x01, 0xcb,
  0x48, 0xff, 0xc9,
  0x75, 0xf8,
  0x44, 0x89, 0xc0,
  0xe7, PORT_PROGRESS,
  0x41, 0xff, 0xc8,
  0x75, 0xe9,
  0x89, 0xd8,
  0xe7, PORT_RESULT,
  0xf4,
  0xeb, 0xfe,
};
G_STATIC_ASSERT (sizeof guest_code == SPIN_OFFSET + 2);

/* Guest physical layout (2 MiB, mapped at KERNEL_BASE by one 2 MiB page). */
#define GUEST_MEM_SIZE (2u << 20)
#define CODE_GPA 0x1000
#define PML4_GPA 0x2000
#define PDPT_GPA 0x3000
#define PD_GPA 0x4000
#define STACK_GPA 0x80000
#define KERNEL_BASE G_GUINT64_CONSTANT (0xffffffff80000000)

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_PS 0x80
#define CR0_PE 0x1
#define CR0_MP 0x2
#define CR0_ET 0x10
#define CR0_NE 0x20
#define CR0_WP 0x10000
#define CR0_AM 0x40000
#define CR0_PG 0x80000000u
#define CR4_PAE 0x20
#define EFER_LME 0x100
#define EFER_LMA 0x400

static guint32
expected_result (void)
{
  guint64 per_chunk = (guint64) ITERATIONS * (ITERATIONS + 1) / 2;
  return (guint32) (per_chunk * CHUNKS);
}

/* What the child tells the parent, one fixed-size record at a time. */
typedef enum { MSG_PROGRESS = 1, MSG_DONE, MSG_FAIL } MsgKind;
typedef enum {
  ST_CREATE_VM = 1, ST_MEMORY, ST_SET_MEMORY, ST_CREATE_VCPU, ST_MMAP_RUN, ST_CPUID,
  ST_SREGS, ST_REGS, ST_RUN, ST_EXIT, ST_RESULT,
} Stage;
typedef struct {
  guint8 kind;
  guint8 stage;
  guint16 pad;
  gint32 value;
} Msg;

static const char *
stage_name (guint stage)
{
  switch (stage)
    {
    case ST_CREATE_VM: return "KVM_CREATE_VM";
    case ST_MEMORY: return "allocating guest memory";
    case ST_SET_MEMORY: return "KVM_SET_USER_MEMORY_REGION";
    case ST_CREATE_VCPU: return "KVM_CREATE_VCPU";
    case ST_MMAP_RUN: return "mapping the vCPU's run area";
    case ST_CPUID: return "KVM_SET_CPUID2";
    case ST_SREGS: return "KVM_SET_SREGS";
    case ST_REGS: return "KVM_SET_REGS";
    case ST_RUN: return "KVM_RUN";
    default: return "?";
    }
}

/* In the forked child: only async-signal-safe calls from here on (the
 * parent may have other threads, holding locks the child would inherit). */
static void
child_send (int fd, MsgKind kind, Stage stage, gint32 value)
{
  Msg m = { (guint8) kind, (guint8) stage, 0, value };
  ssize_t n;
  do
    n = write (fd, &m, sizeof m);
  while (n < 0 && errno == EINTR);
}

G_GNUC_NORETURN static void
child_fail (int fd, Stage stage, gint32 value)
{
  child_send (fd, MSG_FAIL, stage, value);
  _exit (1);
}

G_GNUC_NORETURN static void
child_run_guest (int kvm, int out, gboolean spin)
{
  /* A kvm_cpuid2 followed by room for 256 entries (a flexible array
   * member cannot sit inside another struct in ISO C). */
  union {
    struct kvm_cpuid2 head;
    guint8 bytes[sizeof (struct kvm_cpuid2) + 256 * sizeof (struct kvm_cpuid_entry2)];
  } cpuid;
  struct kvm_userspace_memory_region region;
  struct kvm_sregs sregs;
  struct kvm_regs regs;
  struct kvm_segment code_seg, data_seg;
  struct kvm_run *run;
  guint8 *mem;
  guint64 *pml4, *pdpt, *pd;
  int vm, vcpu, run_size;
  gboolean got_result = FALSE;
  guint32 result = 0;

  vm = ioctl (kvm, KVM_CREATE_VM, 0);
  if (vm < 0)
    child_fail (out, ST_CREATE_VM, errno);
  ioctl (vm, KVM_SET_TSS_ADDR, 0xfffbd000ul); /* what VMMs do on Intel; unused in long mode */
  mem = mmap (NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED)
    child_fail (out, ST_MEMORY, errno);
  memset (&region, 0, sizeof region);
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = GUEST_MEM_SIZE;
  region.userspace_addr = (guint64) (guintptr) mem;
  if (ioctl (vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
    child_fail (out, ST_SET_MEMORY, errno);
  vcpu = ioctl (vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0)
    child_fail (out, ST_CREATE_VCPU, errno);
  run_size = ioctl (kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < (int) sizeof *run)
    child_fail (out, ST_MMAP_RUN, run_size < 0 ? errno : EINVAL);
  run = mmap (NULL, (size_t) run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED)
    child_fail (out, ST_MMAP_RUN, errno);

  /* The CPU model KVM offers (long mode among it), as any VMM sets it. */
  memset (&cpuid, 0, sizeof cpuid);
  cpuid.head.nent = 256;
  if (ioctl (kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0
      || ioctl (vcpu, KVM_SET_CPUID2, &cpuid) < 0)
    child_fail (out, ST_CPUID, errno);

  /* Page tables: KERNEL_BASE -> guest physical 0, one 2 MiB page. */
  memcpy (mem + CODE_GPA, guest_code, sizeof guest_code);
  pml4 = (guint64 *) (void *) (mem + PML4_GPA);
  pdpt = (guint64 *) (void *) (mem + PDPT_GPA);
  pd = (guint64 *) (void *) (mem + PD_GPA);
  pml4[(KERNEL_BASE >> 39) & 511] = PDPT_GPA | PTE_P | PTE_RW;
  pdpt[(KERNEL_BASE >> 30) & 511] = PD_GPA | PTE_P | PTE_RW;
  pd[(KERNEL_BASE >> 21) & 511] = 0 | PTE_P | PTE_RW | PTE_PS;

  if (ioctl (vcpu, KVM_GET_SREGS, &sregs) < 0)
    child_fail (out, ST_SREGS, errno);
  memset (&code_seg, 0, sizeof code_seg);
  code_seg.limit = 0xffffffff;
  code_seg.selector = 0x8;
  code_seg.type = 11; /* execute/read, accessed */
  code_seg.present = 1;
  code_seg.s = 1;
  code_seg.l = 1;
  code_seg.g = 1;
  data_seg = code_seg;
  data_seg.selector = 0x10;
  data_seg.type = 3; /* read/write, accessed */
  data_seg.l = 0;
  data_seg.db = 1;
  sregs.cs = code_seg;
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data_seg;
  sregs.cr3 = PML4_GPA;
  sregs.cr4 = CR4_PAE;
  sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
  sregs.efer = EFER_LME | EFER_LMA;
  if (ioctl (vcpu, KVM_SET_SREGS, &sregs) < 0)
    child_fail (out, ST_SREGS, errno);
  memset (&regs, 0, sizeof regs);
  regs.rflags = 0x2;
  regs.rip = KERNEL_BASE + CODE_GPA + (spin ? SPIN_OFFSET : 0);
  regs.rsp = KERNEL_BASE + STACK_GPA;
  if (ioctl (vcpu, KVM_SET_REGS, &regs) < 0)
    child_fail (out, ST_REGS, errno);

  for (;;)
    {
      if (ioctl (vcpu, KVM_RUN, 0) < 0)
        {
          if (errno == EINTR || errno == EAGAIN)
            continue;
          child_fail (out, ST_RUN, errno);
        }
      switch (run->exit_reason)
        {
        case KVM_EXIT_IO:
          if (run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 && run->io.count == 1
              && (run->io.port == PORT_PROGRESS || run->io.port == PORT_RESULT))
            {
              guint32 v;
              memcpy (&v, (guint8 *) run + run->io.data_offset, sizeof v);
              if (run->io.port == PORT_PROGRESS)
                child_send (out, MSG_PROGRESS, 0, (gint32) v);
              else
                {
                  result = v;
                  got_result = TRUE;
                }
              continue;
            }
          child_fail (out, ST_EXIT, KVM_EXIT_IO);
        case KVM_EXIT_HLT:
          if (!got_result || result != expected_result ())
            child_fail (out, ST_RESULT, (gint32) result);
          child_send (out, MSG_DONE, 0, 0);
          _exit (0);
        default:
          child_fail (out, ST_EXIT, (gint32) run->exit_reason);
        }
    }
}

G_GNUC_NORETURN static void
child_main (int kvm, int out, gboolean spin, guint timeout_ms)
{
  struct sigaction dfl;
  sigset_t all;

  /* Whatever happens to the parent, this child does not outlive the probe. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  memset (&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction (SIGALRM, &dfl, NULL);
  sigemptyset (&all);
  sigaddset (&all, SIGALRM);
  sigprocmask (SIG_UNBLOCK, &all, NULL);
  alarm (timeout_ms / 1000 + 2);
  child_run_guest (kvm, out, spin);
}

/* ---- running the probe -------------------------------------------------------- */

static gint n_runs;

static gpointer
reaper_thread (gpointer data)
{
  pid_t pid = GPOINTER_TO_INT (data);
  int status;

  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return NULL;
}

/* Kills the child (a no-op when it is gone) and reaps it; a child stuck in
 * the kernel past a short grace is left to a thread. */
static void
kill_and_reap (pid_t pid)
{
  gint64 until = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  int status;

  kill (pid, SIGKILL);
  while (g_get_monotonic_time () < until)
    {
      pid_t r = waitpid (pid, &status, WNOHANG);
      if (r == pid || (r < 0 && errno != EINTR))
        return;
      g_usleep (5000);
    }
  g_info ("kvm probe: process %d does not exit; reaping it in the background", (int) pid);
  g_thread_unref (g_thread_new ("kvm-probe-reap", reaper_thread, GINT_TO_POINTER (pid)));
}

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* The KVM modules loaded ("kvm_intel", "kvm_amd", ...), comma-separated. */
char *
bgr_kvm_guest_modules (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/sys/module", 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "kvm_"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, cmp_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

/* Runs the guest in a child. *cacheable is FALSE when the probe itself
 * could not run (nothing learnt about KVM). */
BgrKvmVerdict
bgr_kvm_guest_run (int kvm, gboolean spin, guint timeout_ms, char **why, gboolean *cacheable)
{
  int pipe_fds[2];
  pid_t pid;
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64) timeout_ms * 1000;
  guint8 buf[sizeof (Msg) * 16];
  gsize have = 0;
  guint progress = 0;
  gboolean done = FALSE, eof = FALSE;
  Msg fail = { 0 };

  *cacheable = FALSE;
  if (pipe2 (pipe_fds, O_CLOEXEC) < 0)
    {
      *why = g_strdup_printf ("cannot run the KVM test guest: pipe: %s", g_strerror (errno));
      return BGR_KVM_NO_GUESTS;
    }
  pid = fork ();
  if (pid < 0)
    {
      int e = errno;
      close (pipe_fds[0]);
      close (pipe_fds[1]);
      *why = g_strdup_printf ("cannot run the KVM test guest: fork: %s", g_strerror (e));
      return BGR_KVM_NO_GUESTS;
    }
  if (pid == 0)
    {
      close (pipe_fds[0]);
      child_main (kvm, pipe_fds[1], spin, timeout_ms);
    }
  close (pipe_fds[1]);
  g_atomic_int_inc (&n_runs);

  while (!done && !eof && fail.kind == 0)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      struct pollfd pfd = { pipe_fds[0], POLLIN, 0 };
      ssize_t n;
      int r;

      if (left_ms <= 0)
        break;
      r = poll (&pfd, 1, (int) MIN (left_ms, G_MAXINT));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      n = read (pipe_fds[0], buf + have, sizeof buf - have);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          eof = TRUE;
          break;
        }
      have += (gsize) n;
      while (have >= sizeof (Msg))
        {
          Msg m;
          memcpy (&m, buf, sizeof m);
          memmove (buf, buf + sizeof m, have - sizeof m);
          have -= sizeof m;
          if (m.kind == MSG_PROGRESS)
            progress++;
          else if (m.kind == MSG_DONE)
            done = TRUE;
          else
            fail = m;
        }
    }
  close (pipe_fds[0]);
  kill_and_reap (pid);

  {
    double elapsed_s = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;

    if (done)
      {
        *cacheable = TRUE;
        *why = g_strdup_printf ("a test guest ran at hardware speed (~%.0f M instructions in "
                                "%.0f ms)",
                                CHUNKS * INSNS_PER_CHUNK / 1e6, elapsed_s * 1000);
        return BGR_KVM_USABLE;
      }
    if (fail.kind == MSG_FAIL)
      {
        /* A guest that ran and misbehaved says something about KVM; a
         * setup that failed (quickly) is worth trying again next time. */
        *cacheable = fail.stage == ST_EXIT || fail.stage == ST_RESULT;
        if (fail.stage == ST_EXIT)
          *why = g_strdup_printf ("a test guest stopped unexpectedly (KVM exit reason %d)",
                                  fail.value);
        else if (fail.stage == ST_RESULT)
          *why = g_strdup_printf ("a test guest computed a wrong result (0x%08x, expected "
                                  "0x%08x)", (guint32) fail.value, expected_result ());
        else
          *why = g_strdup_printf ("a test guest cannot be set up: %s: %s",
                                  stage_name (fail.stage), g_strerror (fail.value));
        return BGR_KVM_NO_GUESTS;
      }
    if (eof)
      {
        *why = g_strdup ("the KVM test guest's process ended without an answer");
        return BGR_KVM_NO_GUESTS;
      }
    *cacheable = TRUE;
    if (spin)
      *why = g_strdup_printf ("the test guest was stopped after %.1f s", elapsed_s);
    else if (progress == 0)
      *why = g_strdup_printf ("a test guest did not finish within %.0f s, nor even 1/%d of its "
                              "work, where hardware virtualization runs all of it in under 0.1 s; "
                              "Linux guests would hang",
                              timeout_ms / 1000.0, CHUNKS);
    else
      *why = g_strdup_printf ("a test guest did not finish within %.0f s: it ran %u/%d of its "
                              "work, ~%.1f M instructions/s, where hardware virtualization runs "
                              "all of it in under 0.1 s; Linux guests would hang",
                              timeout_ms / 1000.0, progress, CHUNKS,
                              progress * INSNS_PER_CHUNK / 1e6 / elapsed_s);
    return BGR_KVM_NO_GUESTS;
  }
}

/* The checks that need no guest; -1 when /dev/kvm opens (*kvm_fd set). */
int
bgr_kvm_guest_check_device (int *kvm_fd, char **why)
{
  int fd, version;

  if (access (KVM_DEVICE, F_OK) != 0)
    {
      *why = g_strdup (KVM_DEVICE " does not exist");
      return BGR_KVM_ABSENT;
    }
  fd = open (KVM_DEVICE, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    {
      *why = g_strdup_printf (KVM_DEVICE " cannot be opened: %s", g_strerror (errno));
      return BGR_KVM_NO_ACCESS;
    }
  version = ioctl (fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION)
    {
      close (fd);
      *why = g_strdup_printf (KVM_DEVICE " answers API version %d, expected %d", version,
                              KVM_API_VERSION);
      return BGR_KVM_NO_ACCESS;
    }
  *kvm_fd = fd;
  return -1;
}

BgrKvmVerdict
bgr_kvm_probe_run_guest (gboolean spin, guint timeout_ms, char **why)
{
  g_autofree char *local_why = NULL;
  gboolean cacheable;
  int fd = -1;
  int verdict = bgr_kvm_guest_check_device (&fd, &local_why);

  if (verdict < 0)
    {
      g_clear_pointer (&local_why, g_free);
      verdict = bgr_kvm_guest_run (fd, spin, timeout_ms, &local_why, &cacheable);
      close (fd);
    }
  if (why != NULL)
    *why = g_steal_pointer (&local_why);
  return verdict;
}

guint
bgr_kvm_probe_get_n_runs (void)
{
  return (guint) g_atomic_int_get (&n_runs);
}
