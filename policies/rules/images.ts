// Every image a workload or a VM boots from is pinned: a version tag (never a moving tag like
// `latest`), and with `requireDigests` (production) a digest as well.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { arr, containersOf, isPodBearing, isVmType, obj, podSpecOf, str, vmiSpecOf } from "./common";

/** Tags upstream moves; upstream example manifests use some of them. */
export const DEFAULT_FORBIDDEN_TAGS = ["latest", "snapshot", "nightly", "edge", "main", "master", "stable"];

export interface ImageRef {
  repository: string;
  tag?: string;
  digest?: string;
}

/** Splits `registry[:port]/path[:tag][@digest]`; a ':' before the last '/' is a port. */
export function parseImage(image: string): ImageRef {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, tag: tag || undefined, digest: digest || undefined };
}

export interface PinnedImagesConfig {
  requireDigests?: boolean;
  forbiddenTags?: string[];
}

/** What is wrong with an image reference, or undefined when it is pinned enough. */
export function imageProblem(image: string, cfg: PinnedImagesConfig): string | undefined {
  const ref = parseImage(image);
  const forbidden = new Set((cfg.forbiddenTags ?? DEFAULT_FORBIDDEN_TAGS).map((t) => t.toLowerCase()));
  const digestOk = ref.digest !== undefined && /^sha256:[0-9a-f]{64}$/.test(ref.digest);
  if (ref.digest !== undefined && !digestOk)
    return `image "${image}" has a malformed digest (expected sha256:<64 hex digits>)`;
  if (cfg.requireDigests && !digestOk)
    return `image "${image}" has no digest, and requireDigests is on — pin it as ${ref.repository}:${ref.tag ?? "<version>"}@sha256:<digest>`;
  if (ref.tag !== undefined && forbidden.has(ref.tag.toLowerCase()))
    return `image "${image}" uses the moving tag "${ref.tag}" — pin a release tag like :v1.2.3${digestOk ? "" : " or a digest"}`;
  if (ref.tag === undefined && !digestOk)
    return `image "${image}" has no tag (it means :latest) — pin a release tag like ${ref.repository}:v1.2.3 or a digest`;
  if (ref.tag !== undefined && !digestOk && !/^v?\d/.test(ref.tag))
    return `image "${image}" has tag "${ref.tag}", which is not a version — pin a release tag like :v1.2.3 or a digest`;
  return undefined;
}

/** Images a resource runs, with where they sit; empty for resources without images. */
export function imagesOf(type: string, props: Record<string, unknown>): { where: string; image: string | undefined }[] {
  const pod = podSpecOf(type, props);
  if (pod)
    return containersOf(pod).map((c) => ({ where: `${c.where}${c.name ? ` (${c.name})` : ""}`, image: c.image }));
  const vmi = vmiSpecOf(type, props);
  if (vmi) {
    const out: { where: string; image: string | undefined }[] = [];
    arr(vmi.volumes).forEach((v, i) => {
      const volume = obj(v);
      if (!("containerDisk" in volume)) return;
      out.push({
        where: `volumes[${i}] (${str(volume.name) ?? "?"}) containerDisk`,
        image: str(obj(volume.containerDisk).image),
      });
    });
    return out;
  }
  return [];
}

export const pinnedImages: ResourceValidationPolicy = {
  name: "pinned-images",
  description:
    "Workload and VM containerDisk images carry a version tag (never latest or no tag); with requireDigests, a digest too.",
  // Hygiene, not a deploy breaker: production stacks raise it to mandatory with requireDigests.
  enforcementLevel: "advisory",
  configSchema: {
    properties: {
      requireDigests: { type: "boolean", default: false },
      forbiddenTags: { type: "array", items: { type: "string" }, default: DEFAULT_FORBIDDEN_TAGS },
    },
  },
  validateResource: (args, reportViolation) => {
    if (!isPodBearing(args.type) && !isVmType(args.type))
      args.notApplicable("only Pod-bearing workloads and KubeVirt VMs carry images");
    const cfg = args.getConfig<PinnedImagesConfig>();
    for (const { where, image } of imagesOf(args.type, args.props)) {
      if (image === undefined || image === "") {
        reportViolation(`${where}: no image set — name a pinned image`);
        continue;
      }
      const problem = imageProblem(image, cfg);
      if (problem) reportViolation(`${where}: ${problem}`);
    }
  },
};
