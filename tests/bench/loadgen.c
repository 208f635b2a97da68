/*
 * The benchmark's load generator: closed loop, epoll, every reply checked byte for byte.
 *
 * bench.ts compiles this file with the system's C compiler into a temporary directory at run
 * time (no binary is committed) and runs it once per measurement:
 *
 *   loadgen --port P --conns N --depth D --warmup S --duration S --request TEXT \
 *           --expect FILE [--threads T] [--lenient | --prefix]
 *
 * N connections to 127.0.0.1:P each keep D copies of TEXT + "\n" in flight: a connection sends D
 * requests, then one more for every reply it gets, until the warm-up and the measured window are
 * over; then it waits (at most 10 s) for the replies still owed, and counts those it did not get
 * as "unanswered". Every reply is compared byte for
 * byte with the contents of FILE (the exact expected reply, newline included). Only replies
 * completed inside the measured window count; their latency is from the write of their request
 * to the read that completed them, at 1 µs resolution.
 *
 * With --prefix, FILE holds the start of the reply (no newline) and any line starting with it is
 * accepted: for replies that change while the run goes on (HISTORY, as ingestion adds points).
 *
 * With --lenient, a reply that differs from the expected one only in the values of "fetched_at"
 * and "stale" is accepted and becomes that connection's expected reply (ingestion changes the
 * first; a server blocked past the staleness limit rightly flips the second).
 *
 * The connections are shared out among T threads (default 1), each with its own epoll set.
 * Prints one JSON line: the fields of load.ts's LoadResult, plus the generator's own CPU time
 * (getrusage: user + system, all threads) during the measured window, so every report can show
 * how busy the generator itself was.
 *
 * Why C: the previous generator was one Deno process. At 16 requests in flight it needed more
 * CPU per reply than the floor server it measured, so the floor's figure was the generator's
 * ceiling and the server/floor ratio read close to 1 (issue 13). This one needs well under a
 * microsecond of CPU per reply at depth 16.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Latency buckets: 1 µs wide up to 1 s, then 1 ms wide up to 120 s; slower lands in the last. */
#define HIST_FINE 1000000
#define HIST_SIZE (HIST_FINE + 119000 + 1)
#define READ_BYTES (256 * 1024)
#define MAX_LINE (4 * 1024 * 1024)
#define DRAIN_NS (10LL * 1000000000LL)

static int opt_port, opt_conns = 1, opt_depth = 1, opt_threads = 1, opt_lenient, opt_prefix;
static double opt_warmup = 1, opt_duration = 5;
static char *request_bytes; /* D copies of the request line */
static size_t request_len;  /* one request line */
static unsigned char *expect;
static size_t expect_len;
static int64_t start_ns, record_from_ns, stop_at_ns;

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static long long failures;
/* Requests still unanswered when the generator gave up waiting (10 s after the window). */
static long long unanswered;
static char first_error[512];

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail(const char *fmt, const char *detail, size_t detail_len) {
  pthread_mutex_lock(&fail_lock);
  if (failures++ == 0) {
    /* The detail is quoted as a JSON string, at most 200 bytes of it. */
    char quoted[1024];
    size_t q = 0;
    quoted[q++] = '"';
    for (size_t i = 0; i < detail_len && i < 200 && q < sizeof quoted - 8; i++) {
      unsigned char c = (unsigned char)detail[i];
      if (c == '"' || c == '\\') {
        quoted[q++] = '\\';
        quoted[q++] = (char)c;
      } else if (c < 0x20 || c >= 0x7f) {
        q += (size_t)snprintf(quoted + q, 7, "\\u%04x", c);
      } else {
        quoted[q++] = (char)c;
      }
    }
    quoted[q++] = '"';
    quoted[q] = 0;
    snprintf(first_error, sizeof first_error, fmt, quoted);
  }
  pthread_mutex_unlock(&fail_lock);
}

struct conn {
  int fd;
  int64_t *sent_at; /* ring of depth send times */
  int head, tail, in_flight;
  size_t matched;            /* bytes of the current reply that matched so far */
  unsigned char *expected;   /* this connection's expected reply (differs only with --lenient) */
  size_t expected_len;
  unsigned char *diverged;   /* the current reply once it stopped matching, or NULL */
  size_t diverged_len, diverged_cap;
  int closed;
  int skipping; /* --prefix: the prefix matched, the rest of the line is skipped */
};

struct worker {
  pthread_t thread;
  struct conn *conns;
  int count;
  uint32_t *hist;
  long long completed, total;
  int64_t max_ns;
};

/*
 * Whether a and b are equal once the values of "fetched_at" (a string) and "stale" (true or
 * false) are skipped in both: what an ingestion, or a server that fell behind, changes.
 */
static int same_but_fetched_at(const unsigned char *a, size_t an, const unsigned char *b,
                               size_t bn) {
  static const char *keys[] = {"\"fetched_at\":\"", "\"stale\":"};
  static const char ends[] = {'"', ','};
  size_t i = 0, j = 0;
  while (i < an && j < bn) {
    int skipped = 0;
    for (int k = 0; k < 2 && !skipped; k++) {
      size_t kn = strlen(keys[k]);
      if (an - i >= kn && bn - j >= kn && memcmp(a + i, keys[k], kn) == 0 &&
          memcmp(b + j, keys[k], kn) == 0) {
        i += kn;
        j += kn;
        while (i < an && a[i] != ends[k] && a[i] != '}') i++;
        while (j < bn && b[j] != ends[k] && b[j] != '}') j++;
        skipped = 1;
      }
    }
    if (skipped) continue;
    if (a[i] != b[j]) return 0;
    i++;
    j++;
  }
  return i == an && j == bn;
}

static void push_diverged(struct conn *c, const unsigned char *bytes, size_t n) {
  if (c->diverged_len + n > MAX_LINE) n = MAX_LINE - c->diverged_len;
  if (c->diverged_len + n > c->diverged_cap) {
    size_t cap = c->diverged_cap ? c->diverged_cap : 4096;
    while (cap < c->diverged_len + n) cap *= 2;
    c->diverged = realloc(c->diverged, cap);
    c->diverged_cap = cap;
  }
  memcpy(c->diverged + c->diverged_len, bytes, n);
  c->diverged_len += n;
}

static int send_requests(struct conn *c, int count, int64_t now) {
  for (int i = 0; i < count; i++) {
    c->sent_at[c->tail] = now;
    c->tail = (c->tail + 1) % opt_depth;
  }
  c->in_flight += count;
  size_t len = request_len * (size_t)count, off = 0;
  while (off < len) {
    ssize_t n = send(c->fd, request_bytes + off, len - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      const char *why = strerror(errno);
      fail("send failed: %s", why, strlen(why));
      return -1;
    }
    off += (size_t)n;
  }
  return 0;
}

/* Checks the n bytes just read; returns how many replies they completed. */
static int check(struct worker *w, struct conn *c, const unsigned char *buf, size_t n,
                 int64_t now) {
  int done = 0;
  size_t pos = 0;
  while (pos < n) {
    int complete = 0;
    if (c->skipping) {
      const unsigned char *nl = memchr(buf + pos, '\n', n - pos);
      if (nl == NULL) {
        pos = n;
        continue;
      }
      pos = (size_t)(nl - buf) + 1;
      c->skipping = 0;
      complete = 1;
    } else if (c->diverged == NULL || c->diverged_len == 0) {
      size_t want = c->expected_len - c->matched;
      size_t k = n - pos < want ? n - pos : want;
      if (memcmp(buf + pos, c->expected + c->matched, k) == 0) {
        c->matched += k;
        pos += k;
        complete = c->matched == c->expected_len;
        if (complete && opt_prefix) {
          c->skipping = 1;
          complete = 0;
        }
        if (!complete) continue;
      } else {
        size_t d = 0;
        while (buf[pos + d] == c->expected[c->matched + d]) d++;
        c->diverged_len = 0;
        push_diverged(c, c->expected, c->matched + d);
        push_diverged(c, buf + pos + d, 1);
        complete = buf[pos + d] == '\n';
        pos += d + 1;
        if (!complete) continue;
      }
    } else {
      const unsigned char *nl = memchr(buf + pos, '\n', n - pos);
      size_t k = nl ? (size_t)(nl - (buf + pos)) + 1 : n - pos;
      push_diverged(c, buf + pos, k);
      pos += k;
      if (nl == NULL) continue;
      complete = 1;
    }
    /* One reply complete. */
    if (c->diverged != NULL && c->diverged_len > 0) {
      if (opt_lenient && same_but_fetched_at(c->diverged, c->diverged_len, c->expected,
                                             c->expected_len)) {
        if (c->expected != expect) free(c->expected);
        c->expected = malloc(c->diverged_len);
        memcpy(c->expected, c->diverged, c->diverged_len);
        c->expected_len = c->diverged_len;
      } else {
        fail("unexpected reply %s", (const char *)c->diverged, c->diverged_len);
      }
      c->diverged_len = 0;
    }
    c->matched = 0;
    if (c->in_flight == 0) {
      fail("reply %s with no request in flight", (const char *)c->expected, c->expected_len);
      continue;
    }
    if (now >= record_from_ns && now < stop_at_ns) {
      int64_t latency = now - c->sent_at[c->head];
      int64_t us = (latency + 500) / 1000;
      int64_t bucket = us < HIST_FINE ? us : HIST_FINE + (us - HIST_FINE) / 1000;
      w->hist[bucket < HIST_SIZE - 1 ? bucket : HIST_SIZE - 1]++;
      if (latency > w->max_ns) w->max_ns = latency;
      w->completed++;
    }
    w->total++;
    c->head = (c->head + 1) % opt_depth;
    c->in_flight--;
    done++;
  }
  return done;
}

static void *run(void *arg) {
  struct worker *w = arg;
  int ep = epoll_create1(0);
  unsigned char *buf = malloc(READ_BYTES);
  struct epoll_event events[256];
  int open = 0;
  for (int i = 0; i < w->count; i++) {
    struct conn *c = &w->conns[i];
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (send_requests(c, opt_depth, now_ns()) < 0) {
      c->closed = 1;
      continue;
    }
    open++;
  }
  int64_t give_up = stop_at_ns + DRAIN_NS;
  while (open > 0) {
    int64_t now = now_ns();
    if (now >= give_up) break;
    int ready = epoll_wait(ep, events, 256, 100);
    if (ready < 0 && errno != EINTR) break;
    for (int e = 0; e < ready; e++) {
      struct conn *c = events[e].data.ptr;
      if (c->closed) continue;
      ssize_t n = recv(c->fd, buf, READ_BYTES, 0);
      now = now_ns();
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        char why[128];
        int len = snprintf(why, sizeof why, "%d replies outstanding%s%s", c->in_flight,
                           n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
        fail("connection closed with %s", why, (size_t)len);
        c->closed = 1;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        open--;
        continue;
      }
      int done = check(w, c, buf, (size_t)n, now);
      if (done > 0 && now < stop_at_ns) {
        if (send_requests(c, done, now) < 0) {
          c->closed = 1;
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
          open--;
          continue;
        }
      }
      if (c->in_flight == 0 && now >= stop_at_ns) {
        c->closed = 1;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
        open--;
      }
    }
  }
  for (int i = 0; i < w->count; i++) {
    struct conn *c = &w->conns[i];
    if (!c->closed && c->in_flight > 0) {
      pthread_mutex_lock(&fail_lock);
      unanswered += c->in_flight;
      pthread_mutex_unlock(&fail_lock);
    }
    close(c->fd);
  }
  close(ep);
  free(buf);
  return NULL;
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
         ru.ru_stime.tv_usec / 1e3;
}

/* CPU time at the start and the end of the measured window, taken by a timer thread. */
static double cpu_at_record, cpu_at_stop;

static void sleep_until(int64_t at) {
  struct timespec ts = {.tv_sec = at / 1000000000LL, .tv_nsec = at % 1000000000LL};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
  }
}

static void *clock_thread(void *arg) {
  (void)arg;
  sleep_until(record_from_ns);
  cpu_at_record = cpu_ms();
  sleep_until(stop_at_ns);
  cpu_at_stop = cpu_ms();
  return NULL;
}

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t cap = 4096, n = 0;
  unsigned char *data = malloc(cap);
  size_t got;
  while ((got = fread(data + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) data = realloc(data, cap *= 2);
  }
  fclose(f);
  *len = n;
  return data;
}

static void usage(const char *why) {
  fprintf(stderr,
          "loadgen: %s\nUsage: loadgen --port P --conns N --depth D --warmup S --duration S "
          "--request TEXT --expect FILE [--threads T] [--lenient | --prefix]\n",
          why);
  exit(2);
}

int main(int argc, char **argv) {
  const char *request = NULL, *expect_path = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--lenient") == 0) {
      opt_lenient = 1;
      continue;
    }
    if (strcmp(a, "--prefix") == 0) {
      opt_prefix = 1;
      continue;
    }
    if (i + 1 >= argc) usage("every option but --lenient and --prefix takes a value");
    const char *v = argv[++i];
    if (strcmp(a, "--port") == 0) opt_port = atoi(v);
    else if (strcmp(a, "--conns") == 0) opt_conns = atoi(v);
    else if (strcmp(a, "--depth") == 0) opt_depth = atoi(v);
    else if (strcmp(a, "--threads") == 0) opt_threads = atoi(v);
    else if (strcmp(a, "--warmup") == 0) opt_warmup = atof(v);
    else if (strcmp(a, "--duration") == 0) opt_duration = atof(v);
    else if (strcmp(a, "--request") == 0) request = v;
    else if (strcmp(a, "--expect") == 0) expect_path = v;
    else usage("unknown option");
  }
  if (opt_port <= 0 || request == NULL || expect_path == NULL) {
    usage("--port, --request and --expect are required");
  }
  if (opt_conns < 1 || opt_depth < 1 || opt_threads < 1 || opt_duration <= 0) {
    usage("--conns, --depth, --threads and --duration must be positive");
  }
  if (opt_threads > opt_conns) opt_threads = opt_conns;
  expect = read_file(expect_path, &expect_len);
  if (expect == NULL || expect_len == 0 || (!opt_prefix && expect[expect_len - 1] != '\n')) {
    usage("--expect must name a file holding one reply line, newline included");
  }
  request_len = strlen(request) + 1;
  request_bytes = malloc(request_len * (size_t)opt_depth);
  for (int i = 0; i < opt_depth; i++) {
    memcpy(request_bytes + i * request_len, request, request_len - 1);
    request_bytes[(i + 1) * request_len - 1] = '\n';
  }

  struct conn *conns = calloc((size_t)opt_conns, sizeof *conns);
  for (int i = 0; i < opt_conns; i++) {
    struct conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
      fprintf(stderr, "loadgen: cannot connect to 127.0.0.1:%d: %s\n", opt_port,
              strerror(errno));
      return 1;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->sent_at = calloc((size_t)opt_depth, sizeof *c->sent_at);
    c->expected = expect;
    c->expected_len = expect_len;
  }

  start_ns = now_ns();
  record_from_ns = start_ns + (int64_t)(opt_warmup * 1e9);
  stop_at_ns = record_from_ns + (int64_t)(opt_duration * 1e9);
  struct worker *workers = calloc((size_t)opt_threads, sizeof *workers);
  pthread_t timer;
  pthread_create(&timer, NULL, clock_thread, NULL);
  for (int t = 0, from = 0; t < opt_threads; t++) {
    int count = opt_conns / opt_threads + (t < opt_conns % opt_threads);
    workers[t].conns = conns + from;
    workers[t].count = count;
    workers[t].hist = calloc(HIST_SIZE, sizeof(uint32_t));
    from += count;
    pthread_create(&workers[t].thread, NULL, run, &workers[t]);
  }
  for (int t = 0; t < opt_threads; t++) pthread_join(workers[t].thread, NULL);
  pthread_join(timer, NULL);

  long long completed = 0, total = 0;
  int64_t max_ns = 0;
  for (int t = 0; t < opt_threads; t++) {
    completed += workers[t].completed;
    total += workers[t].total;
    if (workers[t].max_ns > max_ns) max_ns = workers[t].max_ns;
    if (t > 0) {
      for (int b = 0; b < HIST_SIZE; b++) workers[0].hist[b] += workers[t].hist[b];
    }
  }
  uint32_t *hist = workers[0].hist;
  double percentiles[3] = {50, 99, 99.9}, values[3] = {0, 0, 0};
  for (int p = 0; p < 3; p++) {
    long long rank = (long long)((percentiles[p] / 100) * (double)completed + 0.999999);
    long long seen = 0;
    for (int b = 0; b < HIST_SIZE && completed > 0; b++) {
      seen += hist[b];
      if (seen >= rank) {
        values[p] = b < HIST_FINE ? b / 1000.0 : (HIST_FINE + (b - HIST_FINE) * 1000.0) / 1000.0;
        break;
      }
    }
  }
  double cpu_window = cpu_at_stop - cpu_at_record;
  printf("{\"completed\":%lld,\"total\":%lld,\"errors\":%lld,\"rps\":%.1f,\"p50\":%.3f,"
         "\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"unanswered\":%lld,\"threads\":%d,\"cpuMs\":%.1f,"
         "\"cpuUsPerReply\":%.4f,\"busy\":%.4f,\"firstError\":",
         completed, total, failures, completed / opt_duration, values[0], values[1], values[2],
         max_ns / 1e6, unanswered, opt_threads, cpu_window,
         completed > 0 ? cpu_window * 1000 / (double)completed : 0,
         cpu_window / (opt_duration * 1000));
  if (failures > 0) {
    printf("\"");
    for (const char *s = first_error; *s; s++) {
      if (*s == '"' || *s == '\\') putchar('\\');
      putchar(*s);
    }
    printf("\"");
  } else {
    printf("null");
  }
  printf("}\n");
  return failures == 0 && unanswered == 0 ? 0 : 3;
}
