"""What the container's first process does between fork and exec. Stdlib only.

It joins (or makes) the network namespace, makes its own mount, UTS and IPC namespaces, mounts the
overlay root with /proc, /sys, a minimal /dev and the container's mounts, pivots into it, sets the
hostname and user, and execs the command. Any failure is raised as InitError with a one-line,
Docker-like message and the exit code Docker would report.
"""
from __future__ import annotations

import os
import stat

from engine.runtime import procfs
from engine.runtime import syscalls as sc
from engine.runtime.initerror import InitError
from engine.runtime.mounts import MountError, Root, bind_fd, root_propagation, setup_mounts
from engine.snapshots.safepath import PathEscape, safe_join


DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0))


def _inside(root: str, path: str) -> str:
    try:
        return safe_join(root, path)
    except PathEscape as e:
        raise InitError(str(e)) from None


def _mkdirs(root: str, path: str) -> str:
    target = _inside(root, path)
    os.makedirs(target, exist_ok=True)
    return target


def _mknod(rootfs: str, path: str, kind: str, major: int, minor: int, mode: int, uid: int = 0,
           gid: int = 0) -> None:
    target = _inside(rootfs, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.lexists(target):
        os.unlink(target)
    os.mknod(target, (stat.S_IFBLK if kind == "b" else stat.S_IFCHR) | 0o600, os.makedev(major, minor))
    os.chmod(target, mode & 0o7777)
    os.chown(target, uid, gid)


def _host_devices() -> list[dict]:
    """Every device node of the host's /dev (for privileged containers), as Docker hands them on."""
    out = []
    for dirpath, dirnames, filenames in os.walk("/dev"):
        dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in ("/dev/pts", "/dev/shm",
                                                                              "/dev/mqueue", "/dev/fd")]
        for name in filenames:
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                if path in ("/dev/console", "/dev/ptmx") or path.startswith("/dev/tty") and path != "/dev/tty":
                    continue
                out.append({"path": path, "type": "b" if stat.S_ISBLK(st.st_mode) else "c",
                            "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                            "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid})
    return out


def _setup_dev(rootfs: str, cfg: dict) -> None:
    dev = _mkdirs(rootfs, "/dev")
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID, "mode=755,size=65536k")
    for name, major, minor in DEVICES:
        _mknod(rootfs, "/dev/" + name, "c", major, minor, 0o666)
    devices = list(cfg.get("devices") or [])
    if cfg.get("privileged"):
        devices = _host_devices() + devices
    for d in devices:
        _mknod(rootfs, d["path"], d["type"], d["major"], d["minor"], d.get("mode", 0o666), d.get("uid", 0),
               d.get("gid", 0))
    for sub in ("pts", "shm", "mqueue"):
        os.makedirs(os.path.join(dev, sub), exist_ok=True)
    sc.mount("devpts", os.path.join(dev, "pts"), "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620")
    if not os.path.lexists(os.path.join(dev, "ptmx")):
        os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    ipc = cfg.get("ipc") or "private"
    shm = os.path.join(dev, "shm")
    if ipc == "host":
        _bind("/dev/shm", shm, False)
    elif cfg.get("shm_path"):  # shareable, or joining a shareable one: its /dev/shm lives on the host
        if not os.path.ismount(cfg["shm_path"]):
            raise InitError(f"the shared /dev/shm at {cfg['shm_path']} is not mounted (is its container running?)",
                            125)
        _bind(cfg["shm_path"], shm, False)
    elif ipc != "none":
        size = int(cfg.get("shm_size") or 64 * 1024 * 1024)
        sc.mount("shm", shm, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, f"mode=1777,size={size}")
    sc.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")):
        if not os.path.lexists(os.path.join(dev, name)):
            os.symlink(target, os.path.join(dev, name))


def _bind(source: str, target: str, read_only: bool) -> None:
    sc.mount(source, target, None, sc.MS_BIND | sc.MS_REC)
    if read_only:
        sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)


def _lowerdir_option(lower: list[str], upper: str) -> str:
    """The lowerdir= value. Mount options must fit in one page (about 40 layers of full paths): past
    that, layers are named by short symlinks (as Docker's overlay2 does) made next to the upper dir,
    and the mount resolves them from there (the current directory)."""
    joined = ":".join(lower)
    if len(joined) < 3072:
        return joined
    links = os.path.join(os.path.dirname(upper), "lower")
    os.makedirs(links, exist_ok=True)
    for i, path in enumerate(lower):
        link = os.path.join(links, str(i))
        try:
            os.unlink(link)
        except FileNotFoundError:
            pass
        os.symlink(path, link)
    os.chdir(links)
    return ":".join(str(i) for i in range(len(lower)))


def _join(path: str, kind: int, what: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise InitError(f"cannot join the {what} namespace ({path}): {e.strerror}; is that container running?",
                        125) from None
    try:
        sc.setns(fd, kind)
    finally:
        os.close(fd)


def _namespaces(cfg: dict) -> None:
    flags = sc.CLONE_NEWNS | sc.CLONE_NEWUTS
    netns = cfg.get("netns")
    if netns:
        _join(netns, sc.CLONE_NEWNET, "network")
    else:
        flags |= sc.CLONE_NEWNET
    ipc = cfg.get("ipc") or "private"
    if ipc.startswith("join:"):
        _join(f"/proc/{ipc[5:]}/ns/ipc", sc.CLONE_NEWIPC, "IPC")
    elif ipc != "host":
        flags |= sc.CLONE_NEWIPC
    sc.unshare(flags)


def setup_root(cfg: dict) -> None:
    """Namespaces and mounts; ends with the process inside its new root."""
    # what runs after pivot_root cannot import from the host any more: load it now (in the child only)
    from engine.runtime import confine, init  # noqa: F401

    _namespaces(cfg)
    sc.mount(None, "/", None, root_propagation(cfg.get("mounts") or []))

    rfs = cfg["rootfs"]
    rootfs = rfs["mountpoint"]
    lower = _lowerdir_option(rfs["lower"], rfs["upper"])
    try:
        sc.mount("overlay", rootfs, "overlay", 0,
                 f"lowerdir={lower},upperdir={rfs['upper']},workdir={rfs['work']}")
    except OSError as e:
        raise InitError(f"cannot mount the container's root filesystem: {e.strerror}") from None

    sc.mount("proc", _mkdirs(rootfs, "/proc"), "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    sys_flags = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | (0 if cfg.get("privileged") else sc.MS_RDONLY)
    sc.mount("sysfs", _mkdirs(rootfs, "/sys"), "sysfs", sys_flags)
    _setup_dev(rootfs, cfg)

    root = Root(rootfs)  # targets are resolved in it and mounted on through descriptors
    try:
        setup_mounts(root, cfg.get("mounts") or [])
        # after the mounts, as Docker does: a volume on /etc does not hide them
        for container_path, host_path in (cfg.get("files") or {}).items():
            if os.path.exists(host_path):
                try:
                    target = root.mountpoint(container_path, False)
                except MountError:
                    continue  # a read-only volume there without the file, or a link into /proc
                try:
                    bind_fd(root, host_path, target, container_path)
                finally:
                    os.close(target)
    except MountError as e:
        raise InitError(str(e)) from None
    finally:
        root.close()

    os.chdir(rootfs)
    sc.pivot_root(".", ".")
    sc.umount(".", sc.MNT_DETACH)
    os.chdir("/")
    if cfg.get("hostname"):
        sc.sethostname(cfg["hostname"])
    procfs.harden(cfg)
    if cfg.get("domainname"):
        sc.setdomainname(cfg["domainname"])


def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def resolve_user(spec: str, root: str = "/") -> tuple[int, int, list[int], str]:
    """uid, gid, supplementary groups and home for a Docker `user` (name, uid, name:group, uid:gid),
    from the passwd and group files under *root* (the container's root once pivoted)."""
    passwd = _read_db(os.path.join(root, "etc/passwd"))
    group = _read_db(os.path.join(root, "etc/group"))
    user, _, grp = (spec or "").partition(":")
    user = user or "0"  # like Docker: no user is root, with root's home and groups from the image
    uid, gid, home, name = 0, 0, "/", ""
    if user:
        entry = next((e for e in passwd if len(e) >= 7 and (e[0] == user or e[2] == user)), None)
        if entry:
            name, uid, gid, home = entry[0], int(entry[2]), int(entry[3]), entry[5] or "/"
        elif user.isdigit():
            uid, gid, name = int(user), 0, ""
        else:
            raise InitError(f"unable to find user {user}: no matching entries in passwd file")
    if grp:
        g = next((e for e in group if len(e) >= 3 and (e[0] == grp or e[2] == grp)), None)
        if g:
            gid = int(g[2])
        elif grp.isdigit():
            gid = int(grp)
        else:
            raise InitError(f"unable to find group {grp}: no matching entries in group file")
    # like Docker, the primary group is also a supplementary one
    extra = sorted({gid} | {int(e[2]) for e in group if len(e) >= 4 and name and name in e[3].split(",")})
    return uid, gid, extra, home


def resolve_groups(names: list, root: str = "/") -> list[int]:
    """`group_add` entries (names from the image's /etc/group, or numbers) as gids."""
    group = _read_db(os.path.join(root, "etc/group"))
    out = []
    for name in names:
        name = str(name)
        g = next((e for e in group if len(e) >= 3 and e[0] == name), None)
        if g:
            out.append(int(g[2]))
        elif name.isdigit():
            out.append(int(name))
        else:
            raise InitError(f"unable to find group {name}: no matching entries in group file", 125)
    return out


def find_executable(name: str, env: dict[str, str]) -> str:
    if "/" in name:
        if not os.path.exists(name):
            raise InitError(f'exec: "{name}": stat {name}: no such file or directory', 127)
        return name
    for d in env.get("PATH", "").split(":"):
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise InitError(f'exec: "{name}": executable file not found in $PATH', 127)


def default_signals() -> None:
    """Every signal back to its default action, as a container's process starts under Docker: an
    ignored disposition survives execve, and ours (the monitor's SIGHUP, Python's SIGXFSZ, what the
    caller's shell ignored) would keep the command from trapping or dying of that signal."""
    import _signal

    for sig in range(1, _signal.NSIG):
        if sig not in (_signal.SIGKILL, _signal.SIGSTOP):
            try:
                _signal.signal(sig, _signal.SIG_DFL)
            except (OSError, ValueError):
                pass


def enter_process(process: dict, init: bool = False, pdeathsig: int = 0, make_cwd: bool = True) -> None:
    """Confinement, user, working directory and exec; never returns on success. With *init*, this
    process stays as the container's PID 1 (reaping, forwarding signals) and a child runs the command.
    *pdeathsig*: the signal this process gets when its parent (the monitor) dies. *make_cwd*: a missing
    working directory is made (a container's first process, as Docker makes it); `exec` passes False,
    and a missing one is refused there, as Docker refuses it."""
    from engine.runtime import confine

    env = dict(item.split("=", 1) for item in process["env"] if "=" in item)
    uid, gid, groups, home = resolve_user(process.get("user") or "")
    groups = sorted(set(groups) | set(resolve_groups(process.get("group_add") or [])))
    if process.get("terminal") and uid:  # the pty we opened: the user may reopen it by name (as runc)
        try:
            os.fchown(0, uid, -1)
        except OSError:
            pass  # it stays root's: the process still holds it open
    env.setdefault("HOME", home)
    cwd = process.get("cwd") or "/"
    if make_cwd:
        try:
            os.makedirs(cwd, exist_ok=True)
        except OSError:
            pass  # a read-only root: chdir below says what is wrong
    try:
        confine.before_user(process)
        confine.switch_user(uid, gid, groups)
        confine.after_user(process, uid)
    except confine.ConfineError as e:
        raise InitError(str(e), 125) from None
    try:
        os.chdir(cwd)
    except OSError as e:
        raise InitError(f'cannot change to the working directory "{cwd}": {(e.strerror or str(e)).lower()}',
                        126) from None
    if pdeathsig:  # a change of user cleared it
        sc.prctl(sc.PR_SET_PDEATHSIG, pdeathsig)
    args = process["args"]
    path = find_executable(args[0], env)
    sc.cloexec_fds()  # the command holds 0, 1, 2 and what it opens itself: nothing of ours
    if init:
        from engine.runtime.init import run_init

        run_init(path, args, env)
    default_signals()
    try:
        os.execve(path, args, env)
    except PermissionError:
        raise InitError(f'exec: "{args[0]}": permission denied', 126) from None
    except OSError as e:
        raise InitError(f'exec: "{args[0]}": {e.strerror}', 126) from None
