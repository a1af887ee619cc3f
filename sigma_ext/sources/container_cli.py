"""Container creation on a host's command line: which tool, which subcommand, which image.

EDR process telemetry (Sysmon for Linux Event ID 1, ...) records the command line of every
process. A container is created from a host by a client (``docker``/``nerdctl``/``podman``
``run`` or ``create``, ``kubectl run``/``create``/``apply``, ``ctr run``, ``crictl
runp``/``run``/``create``) or, for every container of a node, by the runtime (``runc ...
create``, which containerd's shim starts). ``docker exec``, ``runc exec`` (kubelet exec probes,
``kubectl exec``) and every other subcommand are not creations.

The image is the first positional argument after the subcommand's flags, so the parser must know
which flags take a value: in ``docker run --rm -e A=1 -v /a:/b --name n reg/img:tag cmd`` the
image is ``reg/img:tag``, not ``A=1``. ``FAMILIES`` is that table; ``pcre(family)`` turns one row
into a regular expression with named groups ``sx_cli``, ``sx_action``, ``sx_flags`` and
``sx_image`` that PCRE (Splunk ``rex``), Java (ES|QL ``GROK``) and Python read the same way, so the
native parser and the SIEM searches are one expression: ``tests/test_container_cli.py`` checks that
the Splunk and Elastic mappings carry exactly the expressions made here.

``sx_flags`` is the creating subcommand's flag section, as written, with the whitespace on both
sides of it: for ``docker``/``nerdctl``/``podman`` and ``ctr`` the words between the subcommand and
the image (``docker run --rm --privileged alpine sh -c x`` gives `` --rm --privileged ``; the
image's own arguments are never in it, so ``docker run alpine echo --privileged`` gives `` ``),
since these clients stop reading flags at the image. ``kubectl`` reads flags anywhere up to
``--``, so its section is everything after the subcommand up to `` -- `` (with the whitespace
before it) or the end of the line (then with no whitespace after it: a rule reads the last word
with ``endswith``). ``crictl`` and ``runc`` take their container's settings from a JSON file and
have no section. Rules match a flag as a whole word by the spaces around it
(`` --privileged ``), so ``--privileged=false`` and ``--privileged-without-host-devices`` are
other words.

Limits: the command line is the argument vector joined with spaces (Sysmon, auditd), so a value
holding a space splits into two words; a short-flag cluster ending in a value flag (``-itp 80``)
is read as such only when its last letter takes a value; ``docker compose up`` (which creates
containers through the daemon's API) is not a ``run``/``create`` and is not read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_RUN_VALUE_FLAGS = _words(
    # docker run/create (docs.docker.com/reference/cli/docker/container/run), with the podman
    # and nerdctl flags of the same shape; a flag a tool does not have never appears on its line
    "--add-host --annotation --attach --blkio-weight --blkio-weight-device --cap-add --cap-drop "
    "--cgroup-parent --cgroupns --cidfile --cpu-period --cpu-quota --cpu-rt-period "
    "--cpu-rt-runtime --cpu-shares --cpus --cpuset-cpus --cpuset-mems --detach-keys --device "
    "--device-cgroup-rule --device-read-bps --device-read-iops --device-write-bps "
    "--device-write-iops --dns --dns-option --dns-search --domainname --entrypoint --env "
    "--env-file --expose --gpus --group-add --health-cmd --health-interval --health-retries "
    "--health-start-interval --health-start-period --health-timeout --hostname --ip --ip6 --ipc "
    "--isolation --kernel-memory --label --label-file --link --link-local-ip --log-driver "
    "--log-opt --mac-address --memory --memory-reservation --memory-swap --memory-swappiness "
    "--mount --name --net --net-alias --network --network-alias --oom-score-adj --pid "
    "--pids-limit --platform --publish --pull --restart --runtime --security-opt --shm-size "
    "--stop-signal --stop-timeout --storage-opt --sysctl --tmpfs --ulimit --user --userns --uts "
    "--volume --volume-driver --volumes-from --workdir "
    # podman and nerdctl only
    "--arch --authfile --cgroup-conf --cgroups --conmon-pidfile --creds --decryption-key "
    "--gidmap --uidmap --pod --pidfile --requires --sdnotify --seccomp-policy --secret "
    "--subgidname --subuidname --timezone --tz --umask --unsetenv --variant --os "
    "--cosign-key --verify"
)
_RUN_SHORT_VALUE_LETTERS = "acehlmpuvw"  # -a -c -e -h -l -m -p -u -v -w

_CTR_RUN_VALUE_FLAGS = _words(
    # ctr run / ctr containers create (containerd cmd/ctr/commands/run and containers,
    # commands.ContainerFlags)
    "--annotation --apparmor-default-profile --apparmor-profile --blockio-class "
    "--blockio-config-file --cap-add --cap-drop --cgroup --cni-config --config --cpu-period "
    "--cpu-quota --cpu-shares --cpus --cwd --device --env --env-file --fifo-dir --gpus --hostname "
    "--label --log-uri --memory-limit --mount --pid-file --platform --rdt-class "
    "--rootfs-propagation --runtime --runtime-config-path --sandbox --seccomp-profile "
    "--snapshotter --snapshotter-label --user --uidmap --gidmap --with-ns"
)


@dataclass(frozen=True)
class Family:
    """Client tools that share a grammar: names, global value flags, creating subcommands."""

    name: str
    tools: tuple[str, ...]
    global_value_flags: tuple[str, ...]
    global_short_letters: str
    actions: tuple[str, ...]
    object_words: tuple[str, ...] = ()  # `docker container run`: words allowed before the action
    run_value_flags: tuple[str, ...] = ()
    run_short_letters: str = ""
    image: str = "positional"  # positional | flag (kubectl --image) | none
    single_dash_long: bool = False  # Go's flag package (urfave/cli v1): -mount is --mount


FAMILIES: tuple[Family, ...] = (
    Family(
        "docker",
        ("docker", "nerdctl", "podman"),
        _words(
            "--host --context --config --log-level --tlscacert --tlscert --tlskey "
            "--namespace --address --snapshotter --storage-driver --cgroup-manager "
            "--data-root --hosts-dir --cni-path --cni-netconfpath --connection --url "
            "--identity --root --runroot --runtime --conmon --events-backend --hooks-dir "
            "--module --network-cmd-path --network-config-dir --tmpdir --volumepath"
        ),
        "Hclna",
        ("run", "create"),
        ("container",),
        _RUN_VALUE_FLAGS,
        _RUN_SHORT_VALUE_LETTERS,
    ),
    Family(
        "ctr",
        ("ctr",),
        ("--namespace", "--address", "--timeout", "--connect-timeout"),
        "na",
        ("run", "create"),
        ("containers", "container", "c"),
        _CTR_RUN_VALUE_FLAGS,
        "cu",
        single_dash_long=True,
    ),
    Family(
        "kubectl",
        ("kubectl",),
        _words(
            "--namespace --context --kubeconfig --server --cluster --user --token --as "
            "--as-group --as-uid --certificate-authority --client-certificate --client-key "
            "--request-timeout --tls-server-name --cache-dir --log-dir --profile"
        ),
        "ns",
        ("run", "create", "apply"),
        image="flag",
    ),
    Family(
        "crictl",
        ("crictl",),
        ("--runtime-endpoint", "--image-endpoint", "--timeout", "--config"),
        "ritc",
        ("runp", "run", "create"),
        image="none",
    ),
    Family(
        "runc",
        ("runc",),
        ("--root", "--log", "--log-format", "--criu", "--rootless"),
        "",
        ("create", "run"),
        image="none",
    ),
)


def _flags(long: tuple[str, ...], short: str, single_dash_long: bool = False) -> str:
    """Zero or more flags: a value flag with its value (``--x=v``, ``--x v``), any other flag."""
    # flag names are letters, digits and hyphens: literal in every regex dialect, unescaped
    names = sorted(long, key=lambda f: (-len(f), f))
    if single_dash_long:
        names = ["--?" + name.removeprefix("--") for name in names]
    takes = "|".join(names)
    if short:
        takes += f"|-[A-Za-z]*[{short}]"
    return rf"(?:\s+(?:(?:{takes})(?:=\S*|\s+\S+)|-\S*))*"


@cache
def pcre(family: Family) -> str:
    """The family's expression, PCRE/Java syntax (``(?<name>...)``), matched from the start."""
    tools = "|".join(family.tools)
    words = "|".join(family.object_words)
    before = rf"(?:(?:{words})\s+)?" if words else ""
    actions = "|".join(family.actions)
    head = (
        rf"^(?:\S*/)?(?<sx_cli>{tools})"
        + _flags(family.global_value_flags, family.global_short_letters, family.single_dash_long)
        + rf"\s+{before}(?<sx_action>{actions})"
    )
    if family.image == "positional":
        return (
            head
            + "(?<sx_flags>"
            + _flags(family.run_value_flags, family.run_short_letters, family.single_dash_long)
            + r"\s)\s*(?<sx_image>[^-\s]\S*)"
        )
    if family.image == "flag":
        return (
            head
            + r"(?=\s|$)(?=(?<sx_flags>(?:\s(?!--(?:\s|$))\S*)*\s?))"
            + r"(?:.*?\s--image(?:=|\s+)(?<sx_image>[^-\s]\S*))?"
        )
    return head + r"(?=\s|$)"


@cache
def _python(family: Family) -> re.Pattern[str]:
    return re.compile(pcre(family).replace("(?<sx_", "(?P<sx_"))


@dataclass(frozen=True)
class Creation:
    """What a creating command line says: the tool, the subcommand, the image if it names one,
    and the subcommand's flag section where the tool has one."""

    cli: str
    action: str
    image: str | None
    flags: str | None = None


def parse_command_line(command_line: object) -> Creation | None:
    """The container creation a command line asks for, or None when it asks for none."""
    if not isinstance(command_line, str):
        return None
    for family in FAMILIES:
        found = _python(family).search(command_line)
        if found is not None:
            groups = found.groupdict()
            return Creation(
                found["sx_cli"], found["sx_action"], groups.get("sx_image"), groups.get("sx_flags")
            )
    return None


def _without_image(expression: str) -> str:
    return expression.replace("(?<sx_image>", "(?:")


def splunk_rex(field: str, image: bool = True) -> str:
    """The SPL that sets ``sx_cli``, ``sx_action``, ``sx_flags`` and ``sx_image`` from ``field``
    (without ``sx_image`` when ``image`` is false: a source whose ``sx_image`` is another image,
    as Tetragon's running container)."""
    expressions = [pcre(f) if image else _without_image(pcre(f)) for f in FAMILIES]
    return " | ".join(
        f'rex field={field} "{expression.replace(chr(34), chr(92) + chr(34))}"'
        for expression in expressions
    )


def esql_grok(field: str, image: bool = True) -> str:
    """The ES|QL that sets ``sx_cli``, ``sx_action``, ``sx_flags`` and ``sx_image`` from ``field``.

    One GROK (a second one would reset the first one's columns to null where it does not
    match), each family's groups suffixed with its position, then the first non-null of each.
    ``sx_flags`` is lower-cased: ES|QL's ``LIKE`` is case-sensitive where Sigma, Splunk's search
    and the native evaluator are not, so rules write their flag values in lower case and every
    target compares them without case.
    """
    expressions = [pcre(f) if image else _without_image(pcre(f)) for f in FAMILIES]
    parts = [
        "(?:" + e.replace("(?<sx_", f"(?<sx{n}_").removeprefix("^") + ")"
        for n, e in enumerate(expressions)
    ]
    grok = f'GROK {field} """^(?:{"|".join(parts)})"""'
    evals = []
    for name in ("cli", "action", "flags", "image") if image else ("cli", "action", "flags"):
        made = [f"sx{n}_{name}" for n, e in enumerate(expressions) if f"<sx_{name}>" in e]
        first = f"COALESCE({', '.join(made)})"
        evals.append(f"sx_{name} = " + (f"TO_LOWER({first})" if name == "flags" else first))
    return f"{grok} | EVAL {', '.join(evals)}"
