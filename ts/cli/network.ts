// --network NAME | --network-config FILE, shared by sync and node.
import { PRESET_NAMES, type PresetName } from '../config/networks.js';
import { ConfigError, loadNetworkFile, type Network, networkPreset } from '../config/schema.js';
import { CliError } from './args.js';

export function chooseNetwork(
  name: string | undefined,
  file: string | undefined,
  fallback: PresetName,
): Network {
  if (name && file) throw new CliError('give --network or --network-config, not both', 2);
  if (file) {
    try {
      return loadNetworkFile(file);
    } catch (err) {
      if (err instanceof ConfigError) throw new CliError(err.message, 2);
      throw err;
    }
  }
  const chosen = name ?? fallback;
  if (!(PRESET_NAMES as string[]).includes(chosen)) {
    throw new CliError(`--network must be one of ${PRESET_NAMES.join(', ')}, got "${chosen}"`, 2);
  }
  return networkPreset(chosen as PresetName);
}
