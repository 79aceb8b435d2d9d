/*
 * bench-linux-ops: the operations of ilusion's benchmarks, measured on Linux.
 *
 * Built static for aarch64 by tools/bench-linux/run and started as the only
 * program of a tiny initramfs on Debian's arm64 kernel, under the QEMU
 * command of ilusion's benchmarks (-icount shift=0,align=off,sleep=off
 * -seed 1 -rtc clock=vm, one core), where one guest instruction advances
 * virtual time by 1 ns. Each figure reads the virtual counter (CNTVCT_EL0,
 * which Linux lets EL0 read) around N operations, takes away the same loop
 * with an empty body, and prints
 *
 *     linux NAME VALUE
 *
 * with VALUE in instructions per operation (ticks x 1e9 / CNTFRQ_EL0: 16
 * instructions a tick at QEMU's 62.5 MHz; N is large enough that the tick
 * divides away). Other lines start with '#'. On any other machine (the host
 * build that tools/bench-linux/run --self-test makes) the clock is
 * CLOCK_MONOTONIC and VALUE is nanoseconds: it only checks the program.
 *
 * Everything runs on one CPU (the guest has one core; on the host the
 * affinity makes it the same), so each hand-off is a switch on that CPU.
 *
 *     bench-linux-ops [SCALE]   SCALE divides every N (default 1)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long scale = 1;
static pid_t main_process;

/* Ends the run; only the main process writes out the figures so far (a child's buffer is a copy). */
static void die(const char *what)
{
	fprintf(stderr, "bench-linux-ops: %s: %s\n", what, strerror(errno));
	if (getpid() == main_process)
		exit(1);
	_exit(1);
}

/* The clock: the virtual counter's ticks on aarch64, nanoseconds elsewhere. */
static uint64_t now(void)
{
#ifdef __aarch64__
	uint64_t ticks;
	__asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(ticks)::"memory");
	return ticks;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* Clock units per second. */
static uint64_t frequency(void)
{
#ifdef __aarch64__
	uint64_t hz;
	__asm__ volatile("mrs %0, cntfrq_el0" : "=r"(hz));
	return hz;
#else
	return 1000000000u;
#endif
}

/* Instructions (ns) per operation: `elapsed` clock units over `ops`, rounded. */
static long per_op(uint64_t elapsed, long ops)
{
	double ns = (double)elapsed * 1e9 / (double)frequency();
	return (long)(ns / (double)ops + 0.5);
}

static void report(const char *name, uint64_t elapsed, uint64_t empty, long ops)
{
	uint64_t net = elapsed > empty ? elapsed - empty : 0;
	printf("linux %s %ld\n", name, per_op(net, ops));
}

/* A loop of n iterations with nothing in it: what every loop below costs besides its operation. */
static uint64_t empty_loop(long n)
{
	uint64_t start = now();
	for (long i = 0; i < n; i++)
		__asm__ volatile("" ::: "memory");
	return now() - start;
}

/* Every thread and process of the run on one CPU: the first this one may use (CPU 0 in the guest). */
static void pin_to_one_cpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		die("sched_getaffinity");
	int cpu = 0;
	while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set))
		cpu++;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		die("sched_setaffinity");
}

/* Memory shared between the two processes of a test (MAP_SHARED survives fork). */
static void *shared_page(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap shared");
	return p;
}

static void reap(pid_t child)
{
	int status;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("a child process failed");
}

/* ---- null system call: getppid through syscall(), as the issue measured it ---- */

static void null_syscall(void)
{
	long n = 200000 / scale;
	uint64_t start = now();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	report("null_syscall", now() - start, empty_loop(n), n);
}

/* ---- sched_yield between two threads or two processes ---- */

struct yield_state {
	volatile int stop;
	volatile int ready;
	volatile long other_yields;
};

static void yield_partner(struct yield_state *s)
{
	s->ready = 1;
	long count = 0;
	while (!s->stop) {
		sched_yield();
		count++;
	}
	s->other_yields = count;
}

static void *yield_thread(void *arg)
{
	yield_partner(arg);
	return NULL;
}

/*
 * The measuring side yields n times while the partner yields until told to
 * stop: each of its yields switches to the partner and each of the
 * partner's back, two switches per iteration. The partner's own count is
 * checked so that a yield that did not switch would show.
 */
static void yield_measure(const char *name, struct yield_state *s, long n)
{
	while (!s->ready)
		sched_yield();
	uint64_t start = now();
	for (long i = 0; i < n; i++)
		sched_yield();
	uint64_t elapsed = now() - start;
	s->stop = 1;
	report(name, elapsed, empty_loop(n), 2 * n);
}

static void yield_threads(void)
{
	long n = 20000 / scale;
	struct yield_state s = { 0 };
	pthread_t t;
	if (pthread_create(&t, NULL, yield_thread, &s) != 0)
		die("pthread_create");
	yield_measure("sched_yield_switch_threads", &s, n);
	pthread_join(t, NULL);
	printf("# sched_yield_switch_threads: the partner yielded %ld times while %ld were measured\n", s.other_yields, n);
}

static void yield_processes(void)
{
	long n = 20000 / scale;
	struct yield_state *s = shared_page();
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		yield_partner(s);
		_exit(0);
	}
	yield_measure("sched_yield_switch_processes", s, n);
	reap(child);
	printf("# sched_yield_switch_processes: the partner yielded %ld times while %ld were measured\n", s->other_yields, n);
	munmap(s, 4096);
}

/* ---- futex hand-off between two threads ---- */

/* The turn: 0 the measuring thread's, 1 the partner's. */
static volatile int futex_turn;

static void futex_wait_while(int value)
{
	while (__atomic_load_n(&futex_turn, __ATOMIC_ACQUIRE) == value)
		syscall(SYS_futex, &futex_turn, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_give(int value)
{
	__atomic_store_n(&futex_turn, value, __ATOMIC_RELEASE);
	syscall(SYS_futex, &futex_turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *futex_partner(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++) {
		futex_wait_while(0);
		futex_give(0);
	}
	return NULL;
}

/* Each round trip is two hand-offs: a wake of a thread waiting on the futex, and the switch to it. */
static void futex_handoff(void)
{
	long n = 20000 / scale;
	pthread_t t;
	futex_turn = 0;
	if (pthread_create(&t, NULL, futex_partner, (void *)n) != 0)
		die("pthread_create");
	uint64_t start = now();
	for (long i = 0; i < n; i++) {
		futex_give(1);
		futex_wait_while(1);
	}
	uint64_t elapsed = now() - start;
	pthread_join(t, NULL);
	report("futex_handoff_threads", elapsed, empty_loop(n), 2 * n);
}

/* ---- pipe hand-off: one byte back and forth over two pipes ---- */

static void pipe_bounce(int in, int out, long n, int first)
{
	char byte = 0;
	for (long i = 0; i < n; i++) {
		if (!first && read(in, &byte, 1) != 1)
			die("read");
		if (write(out, &byte, 1) != 1)
			die("write");
		if (first && read(in, &byte, 1) != 1)
			die("read");
	}
}

struct pipe_ends {
	int in, out;
	long n;
};

static void *pipe_thread(void *arg)
{
	struct pipe_ends *e = arg;
	pipe_bounce(e->in, e->out, e->n, 0);
	return NULL;
}

/* One-way hand-off: a write that wakes the reader and the switch to it; two per round trip. */
static void pipe_handoff(int processes)
{
	long n = 20000 / scale;
	int there[2], back[2];
	if (pipe(there) != 0 || pipe(back) != 0)
		die("pipe");
	pid_t child = 0;
	pthread_t t;
	struct pipe_ends ends = { there[0], back[1], n };
	if (processes) {
		child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			pipe_bounce(there[0], back[1], n, 0);
			_exit(0);
		}
	} else if (pthread_create(&t, NULL, pipe_thread, &ends) != 0) {
		die("pthread_create");
	}
	/* One round trip first, so that both sides are running and waiting. */
	pipe_bounce(back[0], there[1], 1, 1);
	uint64_t start = now();
	pipe_bounce(back[0], there[1], n - 1, 1);
	uint64_t elapsed = now() - start;
	if (processes)
		reap(child);
	else
		pthread_join(t, NULL);
	close(there[0]), close(there[1]), close(back[0]), close(back[1]);
	report(processes ? "pipe_handoff_processes" : "pipe_handoff_threads", elapsed, empty_loop(n - 1), 2 * (n - 1));
}

/* ---- pthread_create + pthread_join of a thread that returns at once ---- */

static void *nothing(void *arg)
{
	return arg;
}

static void thread_create_join(void)
{
	long n = 2000 / scale;
	pthread_t t;
	/* One first: the thread stack cache is then warm, as ilusion's stack cache is. */
	if (pthread_create(&t, NULL, nothing, NULL) != 0 || pthread_join(t, NULL) != 0)
		die("pthread_create");
	uint64_t start = now();
	for (long i = 0; i < n; i++) {
		if (pthread_create(&t, NULL, nothing, NULL) != 0)
			die("pthread_create");
		pthread_join(t, NULL);
	}
	report("pthread_create_join", now() - start, empty_loop(n), n);
}

/* ---- fork + waitpid of a child that exits at once ---- */

static void fork_wait(void)
{
	long n = 300 / scale;
	if (n < 1)
		n = 1;
	uint64_t start = now();
	for (long i = 0; i < n; i++) {
		pid_t child = fork();
		if (child < 0)
			die("fork");
		if (child == 0)
			_exit(0);
		reap(child);
	}
	report("fork_wait", now() - start, empty_loop(n), n);
}

/* ---- first touch of an anonymous page: a demand-zero page fault ---- */

/*
 * One write to each of `pages` fresh pages of an anonymous mapping (4 KiB
 * pages: transparent huge pages are refused with madvise), less the same
 * writes to the pages once mapped. Linux zeroes each page in the fault;
 * ilusion's figure leaves the zeroing out (BENCHMARKS.md).
 */
static void page_fault_first_touch(void)
{
	long pages = 20000 / scale;
	size_t size = (size_t)pages * 4096;
	volatile char *area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap");
	if (madvise((void *)area, size, MADV_NOHUGEPAGE) != 0)
		die("madvise");
	uint64_t start = now();
	for (long i = 0; i < pages; i++)
		area[i * 4096] = 1;
	uint64_t faults = now() - start;
	start = now();
	for (long i = 0; i < pages; i++)
		area[i * 4096] = 2;
	uint64_t touches = now() - start;
	munmap((void *)area, size);
	report("page_fault_first_touch", faults, touches, pages);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		scale = atol(argv[1]);
	if (scale < 1 || scale > 1000) {
		fprintf(stderr, "usage: bench-linux-ops [SCALE (1 to 1000)]\n");
		return 2;
	}
	/* The output waits in a buffer until the end: no console interrupt during a measurement. */
	static char output[16384];
	main_process = getpid();
	setvbuf(stdout, output, _IOFBF, sizeof output);
	pin_to_one_cpu();
	printf("# bench-linux-ops: clock %llu Hz, started at %llu\n", (unsigned long long)frequency(),
	       (unsigned long long)now());
	null_syscall();
	yield_threads();
	yield_processes();
	futex_handoff();
	pipe_handoff(0);
	pipe_handoff(1);
	thread_create_join();
	fork_wait();
	page_fault_first_touch();
	printf("# bench-linux-ops: done at %llu\n", (unsigned long long)now());
	return 0;
}
