#!/usr/bin/python3
"""Simulated sysfs for the sriov-node.sh tests.

A FUSE filesystem (Debian python3-fusepy, module `fusepy`) that serves the part of
/sys that node/sriov-node.sh touches and enforces the kernel's rules, so a test can
see the same errors a real host returns:

  * sriov_numvfs: > sriov_totalvfs -> ERANGE, nonzero -> other nonzero -> EBUSY,
    same value -> no-op, PF without a bound driver -> ENOENT (drivers/pci/iov.c).
  * PFs without SR-IOV have no sriov_* files at all.
  * virtfnN / physfn links and VF device directories follow the VF count.
  * Binding follows drivers/base/bus.c + drivers/pci/pci-driver.c: a driver matches a
    device through driver_override, else through its ID table (vfio-pci has none);
    a VF is only probed when its PF's sriov_drivers_autoprobe is 1 or its
    driver_override names the driver; bind on a bound device -> EBUSY; unbind by a
    driver that does not own the device -> ENODEV.
  * iommu_group links and kernel/iommu_groups/* exist only when the IOMMU is on;
    vfio-pci refuses devices without a group (EINVAL).
  * VFs bound to their PF's VF net driver get a netdev under class/net.
  * Carrier: a PF's link comes up carrierDelayMs after `ip link set up` (default 0, igb
    2000, as autonegotiation takes), never when the port has no cable (cable: false);
    carrier and speed read EINVAL while the interface is down, operstate says "down"
    and `ip link show` NO-CARRIER while up without carrier.
  * Per-VF settings follow the PF driver (DRIVER_VF_RULES): igb refuses `state` with
    EOPNOTSUPP (no ndo_set_vf_link_state), and its ndo_set_vf_bw refuses a nonzero
    min_tx_rate, any rate while the link is down and a max_tx_rate above the link speed
    (EINVAL). A PF's vfRefuse ({"trust": "EOPNOTSUPP"}) adds refusals for a test.

Hidden control surface under /.sim (not listed by readdir):
  /.sim/control        write one command per write: "ip ...", "modprobe <mod>",
                       "fault <op> <pf> <vf> <times> <ERRNO>", "netns <netdev> <ns>"
                       (moves a netdev out of the host namespace, as the SR-IOV CNI does)
  /.sim/state.json     read: the whole simulated state
  /.sim/ip/link/<dev>  read: what `ip link show dev <dev>` prints
  /.sim/ip/addr/<dev>  read: what `ip -o addr show dev <dev>` prints
  /.sim/ip/addr-global/<dev>  the same, scope global only
  /.sim/modules/<mod>  exists when the module could be loaded (modprobe -n)
  /.sim/ready          exists once the filesystem serves requests

Every write to a simulated sysfs attribute is appended to the write log (JSON lines).

Usage: sysfs_sim.py <hardware.json> <mountpoint> <write-log>
"""
import errno
import json
import os
import stat
import sys
import time

import fusepy

FuseOSError = fusepy.FuseOSError
DEVICES = "/devices/pci0000:00"
VFIO = "vfio-pci"

# What a PF driver does with per-VF settings, as measured on Linux 6.12. Keys of "refuse"
# are `ip link set vf N` words, refused whatever the value; "rate" names the rules of the
# driver's ndo_set_vf_bw. Drivers not listed take every setting.
DRIVER_VF_RULES = {
    "igb": {"refuse": {"state": "EOPNOTSUPP"}, "rate": "igb", "carrierDelayMs": 2000, "speed": 1000},
}


def fail(code):
    raise FuseOSError(code)


class Netdev:
    def __init__(self, name, ifindex, mac, mtu=1500, up=False):
        self.name = name
        self.ifindex = ifindex
        self.mac = mac
        self.mtu = mtu
        self.up = up
        self.addrs = []  # (family, cidr, scope)
        self.netns = None  # None: the host namespace, the only one sysfs shows
        self.cable = True  # False: the port is not connected, carrier never comes
        self.carrier_delay = 0.0  # seconds from `ip link set up` to carrier
        self.up_since = 0.0
        self.speed = 10000  # Mb/s once the link is up

    def set_up(self, up):
        if up and not self.up:
            self.up_since = time.monotonic()
        self.up = up

    @property
    def carrier(self):
        return self.up and self.cable and time.monotonic() >= self.up_since + self.carrier_delay


class Device:
    """One PCI function (PF, VF or another device)."""

    def __init__(self, bdf, vendor, device, cls, numa):
        self.bdf = bdf
        self.vendor = vendor
        self.device = device
        self.cls = cls
        self.numa = numa
        self.driver = None
        self.override = None
        self.group = None
        self.netdev = None
        self.pf = None  # set on VFs
        self.index = None  # VF index on its PF
        self.sriov = False  # set on SR-IOV capable PFs


class VfConfig:
    """What the PF driver keeps per VF (ip link set dev <pf> vf N ...)."""

    def __init__(self):
        self.mac = "00:00:00:00:00:00"
        self.vlan = 0
        self.qos = 0
        self.spoofchk = True
        self.trust = False
        self.link_state = "auto"
        self.min_tx = 0
        self.max_tx = 0


def parse_bdf(bdf):
    dom, bus, rest = bdf.split(":")
    dev, fn = rest.split(".")
    return int(dom, 16), int(bus, 16), int(dev, 16), int(fn, 16)


def vf_bdf(pf_bdf, offset, stride, index):
    # PCIe SR-IOV: VF routing ID = PF routing ID + First VF Offset + index * VF Stride.
    dom, bus, dev, fn = parse_bdf(pf_bdf)
    rid = (bus << 8 | dev << 3 | fn) + offset + stride * index
    return "%04x:%02x:%02x.%x" % (dom, rid >> 8 & 0xFF, rid >> 3 & 0x1F, rid & 7)


class Sim:
    def __init__(self, hw, write_log):
        self.write_log = open(write_log, "a", buffering=1)
        self.iommu = bool(hw.get("iommu", True))
        self.vfio_state = hw.get("vfio", "loadable")  # loaded | loadable | missing | broken | inert
        self.dev_root = hw.get("devRoot")
        self.devices = {}
        self.pfs = []
        self.netdevs = {}
        self.next_group = 10
        self.next_ifindex = 2
        self.drivers = set()
        self.faults = [dict(f) for f in hw.get("faults", [])]
        if self.vfio_state == "loaded":
            self.load_vfio()
        for spec in hw.get("pfs", []):
            self.add_pf(spec)
        for spec in hw.get("otherDevices", []):
            d = Device(spec["bdf"], spec.get("vendor", "0x8086"), spec.get("device", "0x0001"),
                       spec.get("class", "0x060400"), spec.get("numaNode", 0))
            d.driver = spec.get("driver")
            d.own_driver = d.driver
            if d.driver:
                self.drivers.add(d.driver)
            self.add_device(d)
        self.check_vf_addresses()
        for pf in self.pfs:
            n = pf.initial_vfs
            if n:
                self.enable_vfs(pf, n)

    # ---- construction -------------------------------------------------
    def add_device(self, d):
        if d.bdf in self.devices:
            raise SystemExit("sysfs_sim: duplicate PCI address %s" % d.bdf)
        self.devices[d.bdf] = d
        if self.iommu:
            d.group = self.next_group
            self.next_group += 1

    def check_vf_addresses(self):
        """A real NIC's SR-IOV capability never gives two functions the same address: refuse a
        hardware description whose VF ranges (offset/stride) collide with each other or with a
        device, instead of simulating something no kernel could see."""
        owner = {bdf: "device %s" % bdf for bdf in self.devices}
        for pf in self.pfs:
            for i in range(pf.total):
                bdf = vf_bdf(pf.bdf, pf.offset, pf.stride, i)
                if bdf in owner:
                    raise SystemExit("sysfs_sim: VF %d of PF %s would sit at %s, already taken by %s: set a different offset for one of them"
                                     % (i, pf.bdf, bdf, owner[bdf]))
                owner[bdf] = "VF %d of PF %s" % (i, pf.bdf)

    def add_pf(self, spec):
        pf = Device(spec["bdf"], spec.get("vendor", "0x8086"), spec.get("device", "0x1572"),
                    spec.get("class", "0x020000"), spec.get("numaNode", 0))
        pf.name = spec.get("name")
        pf.sriov = bool(spec.get("sriov", True))
        pf.total = int(spec.get("totalVfs", 64))
        pf.num = 0
        pf.autoprobe = 1
        pf.offset = int(spec.get("offset", 16))
        pf.stride = int(spec.get("stride", 1))
        pf.vf_device = spec.get("vfDevice", "0x154c")
        pf.vf_driver = spec.get("vfDriver", "iavf")
        pf.vfs = []
        pf.vfconf = []
        pf.initial_vfs = int(spec.get("numVfs", 0))
        # Without ACS on the path to the PF, the IOMMU cannot isolate its functions: the VFs
        # land in the PF's own group (common on boards without ACS in the root port).
        pf.acs = bool(spec.get("acs", True))
        pf.driver = spec.get("driver", "i40e")
        pf.own_driver = pf.driver
        rules = DRIVER_VF_RULES.get(pf.driver, {})
        pf.vf_refuse = dict(rules.get("refuse", {}))
        pf.vf_refuse.update(spec.get("vfRefuse", {}))
        pf.rate_rules = rules.get("rate")
        self.add_device(pf)
        if pf.driver:
            self.drivers.add(pf.driver)
            if pf.name:
                nd = self.new_netdev(pf.name, pf.bdf, spec.get("mtu", 1500))
                nd.cable = bool(spec.get("cable", True))
                nd.carrier_delay = int(spec.get("carrierDelayMs", rules.get("carrierDelayMs", 0))) / 1000.0
                nd.speed = int(spec.get("speed", rules.get("speed", 10000)))
                nd.up = bool(spec.get("up", False))
                nd.up_since = time.monotonic() - nd.carrier_delay  # up at boot: the link is long settled
                pf.netdev = nd
        self.drivers.add(pf.vf_driver)
        self.pfs.append(pf)

    def new_netdev(self, name, bdf, mtu=1500):
        if name in self.netdevs:
            raise SystemExit("sysfs_sim: duplicate netdev %s" % name)
        _, bus, dev, fn = parse_bdf(bdf)
        nd = Netdev(name, self.next_ifindex, "02:00:%02x:%02x:%02x:%02x" % (bus, dev, fn, self.next_ifindex & 0xFF), mtu)
        self.next_ifindex += 1
        self.netdevs[name] = nd
        return nd

    def load_vfio(self):
        self.drivers.add(VFIO)
        if self.dev_root:
            os.makedirs(os.path.join(self.dev_root, "vfio"), exist_ok=True)
            open(os.path.join(self.dev_root, "vfio", "vfio"), "a").close()

    # ---- faults ---------------------------------------------------------
    def fault(self, op, dev):
        pf = dev.pf if dev.pf is not None else dev
        for f in self.faults:
            if f.get("op") != op or f.get("times", 1) <= 0:
                continue
            if f.get("pf") not in (None, pf.name, pf.bdf):
                continue
            if f.get("vf") is not None and (dev.index is None or int(f["vf"]) != dev.index):
                continue
            f["times"] = f.get("times", 1) - 1
            fail(getattr(errno, f.get("errno", "EIO")))

    # ---- SR-IOV --------------------------------------------------------
    def enable_vfs(self, pf, n):
        for i in range(n):
            vf = Device(vf_bdf(pf.bdf, pf.offset, pf.stride, i), pf.vendor, pf.vf_device, pf.cls, pf.numa)
            vf.pf = pf
            vf.index = i
            self.add_device(vf)
            if not pf.acs and pf.group is not None:
                vf.group = pf.group
            pf.vfs.append(vf)
            pf.vfconf.append(VfConfig())
        pf.num = n
        for vf in pf.vfs:
            if pf.autoprobe:
                self.probe(vf)

    def disable_vfs(self, pf):
        for vf in pf.vfs:
            if vf.driver:
                self.detach(vf)
            del self.devices[vf.bdf]
        pf.vfs = []
        pf.vfconf = []
        pf.num = 0

    def write_numvfs(self, pf, value):
        try:
            n = int(value, 0)
        except ValueError:
            fail(errno.EINVAL)
        if n < 0 or n > 0xFFFF:
            fail(errno.EINVAL)
        if n > pf.total:
            fail(errno.ERANGE)
        if n == pf.num:
            return
        if not pf.driver:
            fail(errno.ENOENT)
        self.fault("numvfs", pf)
        if n == 0:
            self.disable_vfs(pf)
            return
        if pf.num != 0:
            fail(errno.EBUSY)
        self.enable_vfs(pf, n)

    # ---- driver core ---------------------------------------------------
    def native_driver(self, dev):
        if dev.pf is not None:
            return dev.pf.vf_driver
        return getattr(dev, "own_driver", None)

    def matches(self, drv, dev):
        if dev.override:
            return dev.override == drv
        return drv != VFIO and drv == self.native_driver(dev)

    def can_probe(self, drv, dev):
        # pci_device_can_probe(): VFs of a PF with autoprobe off only bind on override.
        return dev.pf is None or dev.pf.autoprobe or dev.override == drv

    def attach(self, drv, dev):
        if drv == VFIO:
            if dev.group is None:
                fail(errno.EINVAL)
            if self.dev_root:
                open(os.path.join(self.dev_root, "vfio", str(dev.group)), "a").close()
        dev.driver = drv
        if drv != VFIO and dev.pf is not None:
            pf = dev.pf
            base = pf.name or "eth"
            dev.netdev = self.new_netdev("%sv%d" % (base, dev.index), dev.bdf)

    def detach(self, dev):
        others = [d for d in self.devices.values() if d is not dev and d.group == dev.group and d.driver == VFIO]
        if dev.driver == VFIO and self.dev_root and dev.group is not None and not others:
            try:
                os.unlink(os.path.join(self.dev_root, "vfio", str(dev.group)))
            except FileNotFoundError:
                pass
        if dev.netdev is not None and dev.pf is not None:
            del self.netdevs[dev.netdev.name]
            dev.netdev = None
        dev.driver = None

    def probe(self, dev):
        """device_attach(): first loaded driver that matches and may probe."""
        if dev.driver:
            return
        candidates = [dev.override] if dev.override else [self.native_driver(dev)]
        for drv in candidates:
            if drv and drv in self.drivers and self.matches(drv, dev) and self.can_probe(drv, dev):
                self.attach(drv, dev)
                return

    def bind(self, drv, bdf):
        dev = self.devices.get(bdf)
        if dev is None or not self.matches(drv, dev):
            fail(errno.ENODEV)
        if dev.driver:
            fail(errno.EBUSY)
        if not self.can_probe(drv, dev):
            fail(errno.ENODEV)
        self.fault("bind", dev)
        self.attach(drv, dev)

    def unbind(self, drv, bdf):
        dev = self.devices.get(bdf)
        if dev is None or dev.driver != drv:
            fail(errno.ENODEV)
        self.fault("unbind", dev)
        self.detach(dev)

    def drivers_probe(self, bdf):
        dev = self.devices.get(bdf)
        if dev is None:
            fail(errno.EINVAL)
        self.fault("probe", dev)
        self.probe(dev)

    # ---- ip(8) ------------------------------------------------------------
    def vf_line(self, i, c):
        s = "    vf %d     link/ether %s brd ff:ff:ff:ff:ff:ff" % (i, c.mac)
        if c.vlan:
            s += ", vlan %d" % c.vlan
        if c.qos:
            s += ", qos %d" % c.qos
        if c.max_tx:
            s += ", tx rate %d (Mbps), max_tx_rate %dMbps" % (c.max_tx, c.max_tx)
        if c.min_tx:
            s += ", min_tx_rate %dMbps" % c.min_tx
        s += ", spoof checking %s, link-state %s, trust %s" % (
            "on" if c.spoofchk else "off", c.link_state, "on" if c.trust else "off")
        return s

    def ip_link_text(self, name):
        nd = self.host_netdev(name)
        if nd is None:
            return None
        if nd.carrier:
            flags, state = "BROADCAST,MULTICAST,UP,LOWER_UP", "UP"
        elif nd.up:
            flags, state = "NO-CARRIER,BROADCAST,MULTICAST,UP", "DOWN"
        else:
            flags, state = "BROADCAST,MULTICAST", "DOWN"
        out = ["%d: %s: <%s> mtu %d qdisc mq state %s mode DEFAULT group default qlen 1000"
               % (nd.ifindex, name, flags, nd.mtu, state),
               "    link/ether %s brd ff:ff:ff:ff:ff:ff" % nd.mac]
        pf = self.pf_of_netdev(name)
        if pf is not None:
            for i, c in enumerate(pf.vfconf):
                out.append(self.vf_line(i, c))
        return "\n".join(out) + "\n"

    def ip_addr_text(self, name, global_only):
        nd = self.host_netdev(name)
        if nd is None:
            return None
        out = []
        for fam, cidr, scope in nd.addrs:
            if global_only and scope != "global":
                continue
            out.append("%d: %s    %s %s scope %s %s\\       valid_lft forever preferred_lft forever"
                       % (nd.ifindex, name, fam, cidr, scope, name))
        return "".join(x + "\n" for x in out)

    def host_netdev(self, name):
        nd = self.netdevs.get(name)
        return nd if nd is not None and nd.netns is None else None

    def pf_of_netdev(self, name):
        for pf in self.pfs:
            if pf.netdev is not None and pf.netdev.name == name:
                return pf
        return None

    def ip_command(self, args):
        # Accepts the forms the script uses plus `addr add` for test setup.
        if args[:2] == ["addr", "add"] and len(args) == 5 and args[3] == "dev":
            nd = self.host_netdev(args[4]) or fail(errno.ENODEV)
            fam = "inet6" if ":" in args[2] else "inet"
            scope = "link" if args[2].lower().startswith("fe80") else "global"
            nd.addrs.append((fam, args[2], scope))
            return
        if args[:2] != ["link", "set"]:
            fail(errno.EOPNOTSUPP)
        rest = args[2:]
        if rest and rest[0] == "dev":
            rest = rest[1:]
        if not rest:
            fail(errno.EINVAL)
        nd = self.host_netdev(rest[0]) or fail(errno.ENODEV)
        rest = rest[1:]
        if rest and rest[0] == "vf":
            return self.ip_vf(nd, rest[1:])
        while rest:
            tok = rest.pop(0)
            if tok == "up":
                nd.set_up(True)
            elif tok == "down":
                nd.set_up(False)
            elif tok == "mtu" and rest:
                v = int(rest.pop(0))
                if v < 68 or v > 9702:
                    fail(errno.EINVAL)
                nd.mtu = v
            else:
                fail(errno.EINVAL)

    def ip_vf(self, nd, rest):
        pf = self.pf_of_netdev(nd.name) or fail(errno.EOPNOTSUPP)
        if not rest:
            fail(errno.EINVAL)
        i = int(rest.pop(0))
        if i < 0 or i >= len(pf.vfconf):
            fail(errno.EINVAL)
        self.fault("vfconfig", pf.vfs[i])
        c = pf.vfconf[i]
        rate = None  # (min, max): iproute2 sends both in one IFLA_VF_RATE, the missing one from the VF
        while rest:
            key = rest.pop(0)
            if not rest:
                fail(errno.EINVAL)
            val = rest.pop(0)
            if key in pf.vf_refuse:
                fail(getattr(errno, pf.vf_refuse[key]))
            if key in ("trust", "spoofchk"):
                if val not in ("on", "off"):
                    fail(errno.EINVAL)
                setattr(c, key, val == "on")
            elif key == "state":
                if val not in ("auto", "enable", "disable"):
                    fail(errno.EINVAL)
                c.link_state = val
            elif key == "vlan":
                c.vlan = int(val)
                if c.vlan > 4095:
                    fail(errno.EINVAL)
            elif key == "qos":
                c.qos = int(val)
                if c.qos > 7 or (c.qos and not c.vlan):
                    fail(errno.EINVAL)
            elif key == "min_tx_rate":
                rate = (int(val), (rate or (c.min_tx, c.max_tx))[1])
            elif key == "max_tx_rate":
                rate = ((rate or (c.min_tx, c.max_tx))[0], int(val))
            elif key == "mac":
                c.mac = val
            else:
                fail(errno.EINVAL)
        if rate is not None:
            self.set_vf_rate(pf, c, *rate)

    def set_vf_rate(self, pf, c, min_tx, max_tx):
        """ndo_set_vf_rate: rtnetlink checks min <= max, then the driver has its say."""
        if max_tx and min_tx > max_tx:
            fail(errno.EINVAL)
        if pf.rate_rules == "igb":
            # igb_ndo_set_vf_bw(): no minimum rate, and the link must be up (E1000_STATUS_LU)
            # with the maximum within its speed.
            nd = pf.netdev
            if min_tx or nd is None or not nd.carrier or max_tx > nd.speed:
                fail(errno.EINVAL)
        c.min_tx, c.max_tx = min_tx, max_tx

    def control(self, line):
        words = line.split()
        if not words:
            return
        if words[0] == "ip":
            return self.ip_command(words[1:])
        if words[0] == "modprobe" and len(words) == 2:
            if words[1] not in (VFIO, "vfio_pci"):
                fail(errno.ENOENT)
            if self.vfio_state == "missing":
                fail(errno.ENOENT)
            if self.vfio_state == "broken":
                fail(errno.EKEYREJECTED)  # init_module of an unsigned module under Secure Boot
            if self.vfio_state == "inert":
                return  # modprobe.d: install vfio-pci /bin/true
            if VFIO not in self.drivers:
                self.load_vfio()
            return
        if words[0] == "netns" and len(words) == 3:
            nd = self.host_netdev(words[1]) or fail(errno.ENODEV)
            nd.netns = words[2]
            return
        if words[0] == "fault" and len(words) == 6:
            _, op, pf, vf, times, code = words
            self.faults.append({"op": op, "pf": pf, "vf": None if vf == "-" else int(vf),
                                "times": int(times), "errno": code})
            return
        fail(errno.EINVAL)

    def state(self):
        pfs = []
        for pf in self.pfs:
            pfs.append({
                "bdf": pf.bdf, "name": pf.name, "driver": pf.driver, "sriov": pf.sriov,
                "numVfs": pf.num, "totalVfs": pf.total, "autoprobe": pf.autoprobe,
                "up": bool(pf.netdev and pf.netdev.up), "carrier": bool(pf.netdev and pf.netdev.carrier),
                "mtu": pf.netdev.mtu if pf.netdev else None,
                "vfs": [{
                    "index": vf.index, "bdf": vf.bdf, "driver": vf.driver, "override": vf.override,
                    "iommuGroup": vf.group, "netdev": vf.netdev.name if vf.netdev else None,
                    "netns": vf.netdev.netns if vf.netdev else None,
                    "trust": c.trust, "spoofchk": c.spoofchk, "vlan": c.vlan, "qos": c.qos,
                    "minTxRate": c.min_tx, "maxTxRate": c.max_tx, "linkState": c.link_state,
                } for vf, c in zip(pf.vfs, pf.vfconf)],
            })
        return {"iommu": self.iommu, "drivers": sorted(self.drivers), "pfs": pfs,
                "netdevs": sorted(self.netdevs)}


# ---- filesystem nodes ------------------------------------------------------
class Dir:
    def __init__(self, children):
        self.children = children  # callable -> list of names


class Link:
    def __init__(self, target):
        self.target = target


class Attr:
    def __init__(self, read=None, write=None, hidden=False):
        self.read = read
        self.write = write
        self.hidden = hidden


def const(value):
    return lambda: "%s\n" % value


class SimFS(fusepy.Operations):
    def __init__(self, sim, mountpoint):
        self.sim = sim
        self.mountpoint = mountpoint
        self.handles = {}
        self.next_fh = 1
        self.t0 = time.time()

    # -- path resolution --------------------------------------------------
    def lookup(self, path):
        parts = [p for p in path.split("/") if p]
        s = self.sim
        n = len(parts)
        if n == 0:
            return Dir(lambda: ["bus", "class", "devices", "kernel"])
        top = parts[0]
        if top == ".sim":
            return self.lookup_sim(parts[1:])
        if top == "bus":
            if n == 1:
                return Dir(lambda: ["pci"])
            if parts[1] != "pci":
                return None
            if n == 2:
                return Dir(lambda: ["devices", "drivers", "drivers_probe", "drivers_autoprobe"])
            if parts[2] == "drivers_probe" and n == 3:
                return Attr(write=lambda v: s.drivers_probe(v.strip()))
            if parts[2] == "drivers_autoprobe" and n == 3:
                return Attr(read=const(1), write=lambda v: None)
            if parts[2] == "devices":
                if n == 3:
                    return Dir(lambda: sorted(s.devices))
                if n == 4 and parts[3] in s.devices:
                    return Link("../../../devices/pci0000:00/" + parts[3])
                return None
            if parts[2] == "drivers":
                if n == 3:
                    return Dir(lambda: sorted(s.drivers))
                drv = parts[3]
                if drv not in s.drivers:
                    return None
                if n == 4:
                    return Dir(lambda: ["bind", "unbind", "new_id", "remove_id"]
                               + sorted(b for b, d in s.devices.items() if d.driver == drv))
                if n == 5:
                    leaf = parts[4]
                    if leaf == "bind":
                        return Attr(write=lambda v: s.bind(drv, v.strip()))
                    if leaf == "unbind":
                        return Attr(write=lambda v: s.unbind(drv, v.strip()))
                    if leaf in ("new_id", "remove_id"):
                        return Attr(write=lambda v: None)
                    d = s.devices.get(leaf)
                    if d is not None and d.driver == drv:
                        return Link("../../../../devices/pci0000:00/" + leaf)
            return None
        if top == "class":
            if n == 1:
                return Dir(lambda: ["net"])
            if parts[1] != "net":
                return None
            if n == 2:
                return Dir(lambda: sorted(k for k in s.netdevs if s.host_netdev(k)))
            if n == 3 and s.host_netdev(parts[2]):
                bdf = self.netdev_bdf(parts[2])
                if bdf:
                    return Link("../../devices/pci0000:00/%s/net/%s" % (bdf, parts[2]))
            return None
        if top == "kernel":
            if n == 1:
                return Dir(lambda: ["iommu_groups"])
            if parts[1] != "iommu_groups":
                return None
            groups = {}
            for d in s.devices.values():
                if d.group is not None:
                    groups.setdefault(str(d.group), []).append(d.bdf)
            if n == 2:
                return Dir(lambda: sorted(groups, key=int))
            members = groups.get(parts[2])
            if members is None:
                return None
            if n == 3:
                return Dir(lambda: ["devices"])
            if parts[3] != "devices":
                return None
            if n == 4:
                return Dir(lambda: sorted(members))
            if n == 5 and parts[4] in members:
                return Link("../../../../devices/pci0000:00/" + parts[4])
            return None
        if top == "devices":
            if n == 1:
                return Dir(lambda: ["pci0000:00"])
            if parts[1] != "pci0000:00":
                return None
            if n == 2:
                return Dir(lambda: sorted(s.devices))
            d = s.devices.get(parts[2])
            if d is None:
                return None
            return self.lookup_device(d, parts[3:])
        return None

    def netdev_bdf(self, name):
        for d in self.sim.devices.values():
            if d.netdev is not None and d.netdev.name == name:
                return d.bdf
        return None

    def lookup_device(self, d, rest):
        s = self.sim
        attrs = self.device_attrs(d)
        if not rest:
            return Dir(lambda: sorted(attrs))
        node = attrs.get(rest[0])
        if node is None:
            return None
        if rest[0] != "net":
            return node if len(rest) == 1 else None
        nd = d.netdev
        if len(rest) == 1:
            return node
        if rest[1] != nd.name or nd.netns is not None:
            return None
        nattrs = {
            "device": Link("../../../" + d.bdf),
            "address": Attr(read=lambda: nd.mac + "\n"),
            "ifindex": Attr(read=lambda: "%d\n" % nd.ifindex),
            "mtu": Attr(read=lambda: "%d\n" % nd.mtu, write=lambda v: s.ip_command(["link", "set", nd.name, "mtu", v.strip()])),
            "operstate": Attr(read=lambda: "up\n" if nd.carrier else "down\n"),
            "flags": Attr(read=lambda: "0x1003\n" if nd.up else "0x1002\n"),
            "carrier": Attr(read=lambda: ("1\n" if nd.carrier else "0\n") if nd.up else fail(errno.EINVAL)),
            "speed": Attr(read=lambda: ("%d\n" % nd.speed if nd.carrier else "-1\n") if nd.up else fail(errno.EINVAL)),
        }
        if len(rest) == 2:
            return Dir(lambda: sorted(nattrs))
        return nattrs.get(rest[2]) if len(rest) == 3 else None

    def device_attrs(self, d):
        s = self.sim
        a = {
            "vendor": Attr(read=const(d.vendor)),
            "device": Attr(read=const(d.device)),
            "class": Attr(read=const(d.cls)),
            "numa_node": Attr(read=const(d.numa)),
            "driver_override": Attr(read=lambda: "%s\n" % (d.override or "(null)"),
                                    write=lambda v: self.set_override(d, v)),
        }
        if d.driver:
            a["driver"] = Link("../../../bus/pci/drivers/" + d.driver)
        if d.group is not None:
            a["iommu_group"] = Link("../../../kernel/iommu_groups/%d" % d.group)
        if d.netdev is not None:
            a["net"] = Dir(lambda: [d.netdev.name] if d.netdev.netns is None else [])
        if d.pf is not None:
            a["physfn"] = Link("../" + d.pf.bdf)
        if d.sriov:
            a["sriov_totalvfs"] = Attr(read=lambda: "%d\n" % d.total)
            a["sriov_numvfs"] = Attr(read=lambda: "%d\n" % d.num, write=lambda v: s.write_numvfs(d, v.strip()))
            a["sriov_drivers_autoprobe"] = Attr(read=lambda: "%d\n" % d.autoprobe,
                                                write=lambda v: self.set_autoprobe(d, v))
            a["sriov_offset"] = Attr(read=const(d.offset))
            a["sriov_stride"] = Attr(read=const(d.stride))
            a["sriov_vf_device"] = Attr(read=lambda: d.vf_device[2:] + "\n")
            for vf in d.vfs:
                a["virtfn%d" % vf.index] = Link("../" + vf.bdf)
        return a

    def set_override(self, d, value):
        v = value.rstrip("\n")
        if len(value) >= 4095:
            fail(errno.EINVAL)
        d.override = v or None

    def set_autoprobe(self, d, value):
        v = value.strip()
        if v in ("1", "y", "Y", "on"):
            d.autoprobe = 1
        elif v in ("0", "n", "N", "off"):
            d.autoprobe = 0
        else:
            fail(errno.EINVAL)

    def lookup_sim(self, rest):
        s = self.sim
        if not rest:
            return Dir(lambda: ["control", "state.json", "ip", "modules", "ready"])
        if rest == ["ip"]:
            return Dir(lambda: ["link", "addr", "addr-global"])
        if len(rest) == 2 and rest[0] == "ip" and rest[1] in ("link", "addr", "addr-global"):
            return Dir(lambda: sorted(s.netdevs))
        if rest == ["modules"]:
            return Dir(lambda: [VFIO] if s.vfio_state != "missing" else [])
        if rest == ["control"]:
            return Attr(write=lambda v: s.control(v.strip()), hidden=True)
        if rest == ["ready"]:
            return Attr(read=const("ready"), hidden=True)
        if rest == ["state.json"]:
            return Attr(read=lambda: json.dumps(s.state(), indent=1) + "\n", hidden=True)
        if rest == ["modules", VFIO] or rest == ["modules", "vfio_pci"]:
            return Attr(read=const("loadable"), hidden=True) if s.vfio_state != "missing" else None
        if len(rest) == 3 and rest[0] == "ip":
            if rest[1] == "link":
                text = s.ip_link_text(rest[2])
            elif rest[1] in ("addr", "addr-global"):
                text = s.ip_addr_text(rest[2], rest[1] == "addr-global")
            else:
                text = None
            if text is None:
                return None
            return Attr(read=lambda: text, hidden=True)
        return None

    def node(self, path):
        n = self.lookup(path)
        if n is None:
            fail(errno.ENOENT)
        return n

    # -- FUSE operations ----------------------------------------------------
    def getattr(self, path, fh=None):
        n = self.node(path)
        base = dict(st_uid=0, st_gid=0, st_atime=self.t0, st_mtime=self.t0, st_ctime=self.t0)
        if isinstance(n, Dir):
            base.update(st_mode=stat.S_IFDIR | 0o755, st_nlink=2)
        elif isinstance(n, Link):
            base.update(st_mode=stat.S_IFLNK | 0o777, st_nlink=1, st_size=len(n.target))
        else:
            mode = (0o444 if n.read else 0) | (0o200 if n.write else 0)
            size = len(n.read().encode()) if (n.hidden and n.read) else 4096
            base.update(st_mode=stat.S_IFREG | mode, st_nlink=1, st_size=size)
        return base

    def readlink(self, path):
        n = self.node(path)
        if not isinstance(n, Link):
            fail(errno.EINVAL)
        return n.target

    def readdir(self, path, fh):
        n = self.node(path)
        if not isinstance(n, Dir):
            fail(errno.ENOTDIR)
        names = n.children()
        if path == "/":
            names = [x for x in names if x != ".sim"]
        return [".", ".."] + names

    def open(self, path, flags):
        n = self.node(path)
        if isinstance(n, Dir):
            fail(errno.EISDIR)
        acc = flags & os.O_ACCMODE
        if acc in (os.O_WRONLY, os.O_RDWR) and not n.write:
            fail(errno.EACCES)
        if acc in (os.O_RDONLY, os.O_RDWR) and not n.read:
            fail(errno.EACCES)
        fh = self.next_fh
        self.next_fh += 1
        self.handles[fh] = (path, n, n.read().encode() if acc == os.O_RDONLY else None)
        return fh

    def read(self, path, size, offset, fh):
        _, n, data = self.handles.get(fh, (path, None, None))
        if data is None:
            data = self.node(path).read().encode()
        return data[offset:offset + size]

    def write(self, path, data, offset, fh):
        _, n, _ = self.handles.get(fh, (path, self.node(path), None))
        value = data.decode("utf-8", "replace")
        logged = not path.startswith("/.sim/")
        try:
            n.write(value)
        except FuseOSError as e:
            if logged:
                self.log(path, value, errno.errorcode.get(e.errno, str(e.errno)))
            raise
        except (ValueError, IndexError):
            if logged:
                self.log(path, value, "EINVAL")
            fail(errno.EINVAL)
        if logged:
            self.log(path, value, "ok")
        return len(data)

    def log(self, path, value, result):
        self.sim.write_log.write(json.dumps({"path": path, "value": value.rstrip("\n"), "result": result}) + "\n")

    def create(self, path, mode, fi=None):
        # kernfs directories have no ->create: open(O_CREAT) of a missing attribute is EACCES.
        fail(errno.EACCES)

    def truncate(self, path, length, fh=None):
        self.node(path)
        return 0

    def release(self, path, fh):
        self.handles.pop(fh, None)
        return 0

    def flush(self, path, fh):
        return 0

    def statfs(self, path):
        return dict(f_bsize=4096, f_blocks=0, f_bavail=0, f_bfree=0, f_files=0, f_ffree=0, f_namemax=255)


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: sysfs_sim.py <hardware.json> <mountpoint> <write-log>")
    with open(sys.argv[1]) as f:
        hw = json.load(f)
    sim = Sim(hw, sys.argv[3])
    # Zero cache timeouts: directories (virtfnN, net/, driver) change under the
    # script's feet, exactly as in sysfs.
    fusepy.FUSE(SimFS(sim, sys.argv[2]), sys.argv[2], foreground=True, nothreads=True,
                direct_io=True, attr_timeout=0, entry_timeout=0, negative_timeout=0,
                fsname="sysfs-sim")


if __name__ == "__main__":
    main()
