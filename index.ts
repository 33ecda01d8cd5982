// Reads the stack config once, validates and plans it, then builds the platform and exports
// its typed outputs. Nothing else lives here.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "./config/errors";
import { readSecretKeys, requiredSecrets, SecretUse, sshPlan } from "./config/ssh";
import { CONFIG_KEY, CONFIG_NAMESPACE, CONFIG_ROOT } from "./config/schema";
import { readStackConfigFile, secretPartsOf } from "./config/secretPaths";
import { PLATFORM_FILE_KEY, platformSource } from "./config/platformFile";
import { parsePlatform } from "./config/validate";
import { loadOperatorManifest } from "./config/operatorManifest";
import { SriovPlatform } from "./components/platform";
import { connectionsFor } from "./components/connections";
import { skipPromiseStacks } from "./components/promiseStacks";
import { assertFeasible, planPlatform } from "./plan";
import { renderStaticOutputs, StackOutputs } from "./render/outputs";

/** The stack outputs as the program returns them (values may still be Outputs). */
type StackOutputsInput = { [K in keyof StackOutputs]: pulumi.Input<StackOutputs[K]> };

export = async (): Promise<StackOutputsInput> => {
  skipPromiseStacks();
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const stack = pulumi.getStack();
  try {
    // The stack's key or a file it names (large fleets); a missing key is a config error naming
    // it (requireObject would throw the SDK's own error).
    const source = platformSource(config.get(CONFIG_KEY), config.get(PLATFORM_FILE_KEY), stack);
    const model = parsePlatform(source.raw, source.root);
    // The value comes back decrypted as a whole: find which parts of it were set with --secret
    // (a platform file holds none: platformSource refuses them).
    const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    const secretUserData = source.fromFile
      ? new Set<number>()
      : secretPartsOf(CONFIG_ROOT, isSecret?.(CONFIG_ROOT) ?? false, readStackConfigFile(stack), stack);
    const plan = planPlatform(model);
    for (const w of assertFeasible(plan, model.config.allowOvercommit, model.root)) pulumi.log.warn(w);

    const ssh = sshPlan(model);
    const secrets = readSecrets(requiredSecrets(ssh));
    const manifest = await loadOperatorManifest(model.config.kubevirt, model.config.registryMirror);

    const platform = new SriovPlatform(stack, {
      model,
      kubevirtOperatorManifest: manifest,
      connections: connectionsFor(ssh, secrets),
      secretUserData,
    });
    return {
      ...renderStaticOutputs(model),
      networks: platform.networks,
      nodes: platform.nodes,
      vms: platform.vms,
      networkResourcesInjector: platform.networkResourcesInjector,
      plan,
      discoveredPlan: platform.discoveredPlan,
    };
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
};

/** Each named secret from its own namespace (see readSecretKeys for what it must be). */
function readSecrets(needed: ReadonlyMap<string, SecretUse>): Map<string, pulumi.Output<string>> {
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  return readSecretKeys(needed, (s) => {
    const value = new pulumi.Config(s.namespace).getSecret(s.key);
    // An engine too old to say whether a key is secret: getSecret keeps the value secret anyway.
    return value === undefined ? undefined : { value, secret: isSecret?.(s.full) ?? true };
  });
}
