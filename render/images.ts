// Image references for the node agents and the injector: pinned defaults, stack overrides, registry mirror.
import type { PlatformConfig } from "../config/schema";
import { DEFAULT_IMAGES, DEFAULT_VERSIONS } from "../config/versions";

export interface AgentImages {
  multus: string;
  sriovDevicePlugin: string;
  sriovCni: string;
  /** Deployed only with kubevirt.networkResourcesInjector. */
  networkResourcesInjector: string;
}

/**
 * Moves an image to a mirror, keeping its repository path and tag:
 * ghcr.io/org/name:v1 + registry.local/mirror → registry.local/mirror/org/name:v1.
 * The first path element counts as a registry when it has a dot, a colon or is localhost.
 */
export function mirrorImage(image: string, mirror: string | undefined): string {
  if (mirror === undefined) return image;
  const [first, ...rest] = image.split("/");
  const hasRegistry = rest.length > 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  const path = hasRegistry ? rest.join("/") : image.includes("/") ? image : `library/${image}`;
  return `${mirror.replace(/\/$/, "")}/${path}`;
}

export function agentImages(cfg: PlatformConfig): AgentImages {
  const v = cfg.versions;
  const pick = (override: string | undefined, fallback: string) =>
    mirrorImage(override ?? fallback, cfg.registryMirror);
  return {
    multus: pick(cfg.images.multus, DEFAULT_IMAGES.multus(v.multus)),
    sriovDevicePlugin: pick(cfg.images.sriovDevicePlugin, DEFAULT_IMAGES.sriovDevicePlugin(v.sriovDevicePlugin)),
    sriovCni: pick(cfg.images.sriovCni, DEFAULT_IMAGES.sriovCni(v.sriovCni)),
    networkResourcesInjector: pick(
      cfg.images.networkResourcesInjector,
      DEFAULT_IMAGES.networkResourcesInjector(v.networkResourcesInjector),
    ),
  };
}

/**
 * Whereabouts (deployed only when a network uses `ipam.type: whereabouts`): the pinned image,
 * moved to `registryMirror` like every agent image. Not part of `AgentImages` (the `images`
 * stack output) and without a `versions`/`images` override until the schema has those keys.
 */
export function whereaboutsImage(cfg: Pick<PlatformConfig, "registryMirror">): string {
  return mirrorImage(DEFAULT_IMAGES.whereabouts(DEFAULT_VERSIONS.whereabouts), cfg.registryMirror);
}
