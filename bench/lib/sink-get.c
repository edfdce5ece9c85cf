/*
 * sink-get: a download client that costs the machine next to nothing, for measuring what a server can send when
 * the load generator shares its cores (bench/oci.ts --sink). Reads commands on stdin, one per line:
 *     PORT PATH [HEADER-LINES]       (header lines separated by tabs, e.g. "Authorization: Bearer x"; the host is
 *                                     always 127.0.0.1)
 * sends a keep-alive GET on its connection to that port (reconnecting when the port changes or the server closed
 * it), parses the status line and Content-Length, and discards the body with recv(MSG_TRUNC): Linux drops TCP
 * data passed that way without copying it to user space. Answers one line per command on stdout:
 *     STATUS BYTES LOCATION-or--       or       ERR message
 * The bench compiles it with `cc -O2` on first use (bench/.work/sink-get); it is a measuring tool, not Wharf.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd = -1, fd_port = -1;

static int connect_to(int port) {
  if (fd >= 0 && fd_port == port) return 0;
  if (fd >= 0) close(fd);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    fd = -1;
    return -1;
  }
  fd_port = port;
  return 0;
}

static void drop(void) {
  if (fd >= 0) close(fd);
  fd = -1;
}

/* One request on the current connection; 0 on success, -1 when the connection failed before any answer. */
static int get(int port, const char *path, const char *header, char *out, size_t outlen) {
  char req[8192], hdrs[6144] = "";
  /* Header lines are separated by tabs on the command line. */
  for (const char *h = header; *h;) {
    size_t len = strcspn(h, "\t");
    strncat(hdrs, h, len < sizeof hdrs - strlen(hdrs) - 3 ? len : 0);
    strcat(hdrs, "\r\n");
    h += len;
    if (*h == '\t') h++;
  }
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s\r\n", path, port, hdrs);
  if (send(fd, req, n, MSG_NOSIGNAL) != n) return -1;
  char head[16384];
  size_t have = 0;
  char *end = NULL;
  while (!end) {
    ssize_t r = recv(fd, head + have, sizeof head - 1 - have, 0);
    if (r <= 0) return -1;
    have += r;
    head[have] = 0;
    end = strstr(head, "\r\n\r\n");
    if (!end && have >= sizeof head - 1) {
      snprintf(out, outlen, "ERR headers too long");
      drop();
      return 0;
    }
  }
  *end = 0;
  int status = atoi(strchr(head, ' ') ? strchr(head, ' ') + 1 : "0");
  long long length = -1;
  char location[4096] = "-";
  for (char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
    char *l = line + 2;
    if (!strncasecmp(l, "content-length:", 15)) length = atoll(l + 15);
    else if (!strncasecmp(l, "transfer-encoding:", 18)) length = -2;
    else if (!strncasecmp(l, "location:", 9)) {
      char *v = l + 9;
      while (*v == ' ') v++;
      size_t len = strcspn(v, "\r");
      if (len >= sizeof location) len = sizeof location - 1;
      memcpy(location, v, len);
      location[len] = 0;
    }
  }
  if (length < 0) {
    snprintf(out, outlen, "ERR response without a Content-Length (status %d)", status);
    drop();
    return 0;
  }
  long long body = (long long)(have - (end + 4 - head));
  long long left = length - body;
  while (left > 0) {
    ssize_t r = recv(fd, NULL, left > (1 << 30) ? (1 << 30) : left, MSG_TRUNC);
    if (r <= 0) {
      snprintf(out, outlen, "ERR connection closed with %lld of %lld bytes left", left, length);
      drop();
      return 0;
    }
    left -= r;
  }
  if (left < 0) {
    snprintf(out, outlen, "ERR more bytes than Content-Length");
    drop();
    return 0;
  }
  snprintf(out, outlen, "%d %lld %s", status, length, location);
  return 0;
}

int main(void) {
  char line[12288], out[8192];
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    char *sp = strchr(line, ' ');
    if (!sp) {
      printf("ERR bad command\n");
      continue;
    }
    *sp = 0;
    int port = atoi(line);
    char *path = sp + 1;
    char *header = strchr(path, ' ');
    if (header) *header++ = 0;
    else header = "";
    int done = 0;
    for (int attempt = 0; attempt < 2 && !done; attempt++) {
      if (connect_to(port) < 0) {
        snprintf(out, sizeof out, "ERR connect: %s", strerror(errno));
        done = 1;
      } else if (get(port, path, header, out, sizeof out) == 0) done = 1;
      else {
        drop(); /* a kept-alive connection the server had closed: once more on a new one */
        snprintf(out, sizeof out, "ERR connection failed");
      }
    }
    printf("%s\n", out);
  }
  return 0;
}
