/*
 * The benchmark's ceiling server: what the load generator can drive when the server costs next to
 * nothing. It answers like the floor server (`floor.ts`): every "\n" it reads with one fixed line
 * of a given size, `{"status":"OK","data":"xxx..."}` + "\n", the same bytes as floorLine(size),
 * but in C, on one thread, with epoll and one send per read. Compiled by bench.ts at run time next
 * to `loadgen.c`.
 *
 *   ceiling --sizes 23,259,2389
 *
 * listens on one port of 127.0.0.1 per size and prints `ceiling {"23":PORT,...}` once all are
 * listening; it runs until killed. When the generator drives this server far above the floor, the
 * floor's figure is the floor's and not the generator's (issue 13).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SIZES 16
#define BATCH 64
#define READ_BYTES (64 * 1024)

struct endpoint {
  int listener;
  size_t size;
  char *batch; /* BATCH copies of the line */
};

/* What an epoll event points at: a listener or a connection. */
struct slot {
  struct endpoint *endpoint;
  int fd;
  int is_listener;
};

static int send_all(int fd, const char *bytes, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, bytes + off, len - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* The client reads slowly: wait for room; the bench's clients always read. */
        fd_set set;
        FD_ZERO(&set);
        FD_SET(fd, &set);
        select(fd + 1, NULL, &set, NULL, NULL);
        continue;
      }
      return -1;
    }
    off += (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3 || strcmp(argv[1], "--sizes") != 0) {
    fprintf(stderr, "Usage: ceiling --sizes 23,259,2389\n");
    return 2;
  }
  struct endpoint endpoints[MAX_SIZES];
  int count = 0;
  int ep = epoll_create1(0);
  char ports[1024];
  size_t p = 0;
  ports[p++] = '{';
  for (char *item = strtok(argv[2], ","); item != NULL && count < MAX_SIZES;
       item = strtok(NULL, ",")) {
    static const char frame[] = "{\"status\":\"OK\",\"data\":\"\"}\n";
    size_t size = (size_t)atol(item);
    if (size < sizeof frame - 1) {
      fprintf(stderr, "ceiling: size %s is shorter than %zu\n", item, sizeof frame - 1);
      return 2;
    }
    struct endpoint *e = &endpoints[count++];
    e->size = size;
    e->batch = malloc(size * BATCH);
    for (int i = 0; i < BATCH; i++) {
      char *line = e->batch + (size_t)i * size;
      memcpy(line, "{\"status\":\"OK\",\"data\":\"", 23);
      memset(line + 23, 'x', size - (sizeof frame - 1));
      memcpy(line + size - 3, "\"}\n", 3);
    }
    e->listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(e->listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(e->listener, 4096) < 0 ||
        getsockname(e->listener, (struct sockaddr *)&addr, &len) < 0) {
      fprintf(stderr, "ceiling: cannot listen: %s\n", strerror(errno));
      return 1;
    }
    struct slot *slot = calloc(1, sizeof *slot);
    slot->endpoint = e;
    slot->fd = e->listener;
    slot->is_listener = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = slot};
    epoll_ctl(ep, EPOLL_CTL_ADD, e->listener, &ev);
    p += (size_t)snprintf(ports + p, sizeof ports - p, "%s\"%zu\":%d", count > 1 ? "," : "", size,
                          ntohs(addr.sin_port));
  }
  snprintf(ports + p, sizeof ports - p, "}");
  printf("ceiling %s\n", ports);
  fflush(stdout);

  char *buf = malloc(READ_BYTES);
  struct epoll_event events[256];
  for (;;) {
    int ready = epoll_wait(ep, events, 256, -1);
    if (ready < 0 && errno != EINTR) return 1;
    for (int i = 0; i < ready; i++) {
      struct slot *slot = events[i].data.ptr;
      if (slot->is_listener) {
        int fd = accept4(slot->fd, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct slot *conn = calloc(1, sizeof *conn);
        conn->endpoint = slot->endpoint;
        conn->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        continue;
      }
      ssize_t n = recv(slot->fd, buf, READ_BYTES, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      long lines = 0;
      for (ssize_t j = 0; j < n; j++) lines += buf[j] == '\n';
      int failed = n <= 0;
      while (!failed && lines > 0) {
        long take = lines < BATCH ? lines : BATCH;
        failed = send_all(slot->fd, slot->endpoint->batch, (size_t)take * slot->endpoint->size) < 0;
        lines -= take;
      }
      if (failed) {
        epoll_ctl(ep, EPOLL_CTL_DEL, slot->fd, NULL);
        close(slot->fd);
        free(slot);
      }
    }
  }
}
