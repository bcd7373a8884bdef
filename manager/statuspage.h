/* The status page the manager serves on its API port: one HTML page, its
 * script and its style, compiled into the binary (manager/status/), sent
 * with headers that keep the browser from running anything else. */
#ifndef PP_STATUSPAGE_H
#define PP_STATUSPAGE_H

struct evhttp_request;

/* 1 when path names one of the page's files ("/", "/index.html",
 * "/status.js", "/status.css",
 * "/favicon.svg"). */
int statuspage_serves(const char *path);

/* Answers a GET or HEAD of such a path (405 for other methods); the status
 * sent. */
int statuspage_send(struct evhttp_request *req, const char *path);

#endif
