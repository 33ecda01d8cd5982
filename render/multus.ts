// Multus thick plugin daemon configuration (daemon-config.json), as upstream's thick
// deployment writes it; paths are the host paths the DaemonSet mounts.
export function renderMultusDaemonConfig(): string {
  return JSON.stringify(
    {
      chrootDir: "/hostroot",
      cniVersion: "0.3.1",
      logLevel: "verbose",
      logToStderr: true,
      cniConfigDir: "/host/etc/cni/net.d",
      multusAutoconfigDir: "/host/etc/cni/net.d",
      multusConfigFile: "auto",
      socketDir: "/host/run/multus/",
    },
    null,
    2,
  );
}
