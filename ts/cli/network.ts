// --network NAME | --network-config FILE, shared by sync and node, and the words
// for what goes wrong between two nodes that are not on the same network.
import { NETWORK_PRESETS, PRESET_NAMES, type PresetName } from '../config/networks.js';
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
      if (err instanceof ConfigError) throw new CliError(oneLine(err.message), 2);
      throw err;
    }
  }
  const chosen = name ?? fallback;
  if (!(PRESET_NAMES as string[]).includes(chosen)) {
    throw new CliError(`--network must be one of ${PRESET_NAMES.join(', ')}, got "${chosen}"`, 2);
  }
  return networkPreset(chosen as PresetName);
}

/** The built-in network whose magic (wire order, hex) this is, if any. */
export function networkOfMagic(magic: string): PresetName | undefined {
  const m = magic.toLowerCase();
  return PRESET_NAMES.find((name) => NETWORK_PRESETS[name].magic === m);
}

/** --generate builds on the genesis header: say what a network file must add. */
export function requireGenesisHeader(network: Network): void {
  if (network.genesisHeader) return;
  throw new CliError(
    `--generate needs the genesis block's header, and network "${network.name}" has none: ` +
      'add "genesisHeader": { "version", "merkleRoot", "time", "bits", "nonce" } to its network file ' +
      `(the header must hash to its genesisHash ${network.genesisHash})`,
    2,
  );
}

/** What we know about a connection that ended. */
export interface EndedConnection {
  reason: string;
  detail: string;
  /** Whether the peer's version message had arrived. */
  sawVersion: boolean;
}

/**
 * One line on why a connection ended, in the user's terms: a peer that hangs up
 * before its version is most likely on another network (a node drops a
 * connection whose first bytes carry the wrong magic), and a bad magic is named
 * by the network it belongs to.
 */
export function describeDisconnect(ended: EndedConnection, ours: Network): string {
  const { reason, detail } = ended;
  if (reason === 'bad-magic') {
    const magic = /([0-9a-f]{8})/i.exec(detail)?.[1];
    if (magic) {
      const theirs = networkOfMagic(magic);
      const them = theirs ? `${theirs} (magic ${magic})` : `an unknown network (magic ${magic})`;
      return `wrong network: the peer speaks ${them}, this node is ${ours.name} (magic ${ours.magic})`;
    }
  }
  if (reason === 'peer-closed' && !ended.sawVersion) {
    return (
      'likely wrong network: the peer hung up before sending its version, as a node does on a ' +
      `magic that is not its own (we sent ${ours.name}'s ${ours.magic}; check --network), ` +
      'unless it is full or has banned us'
    );
  }
  return plainDisconnect(ended);
}

/** "reason: detail", or the reason alone when the detail adds nothing. */
export function plainDisconnect({ reason, detail }: { reason: string; detail: string }): string {
  return detail === '' || detail === reason ? reason : `${reason}: ${detail}`;
}

/** The first line of a message, the rest summarised on it. */
function oneLine(message: string): string {
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length <= 1 ? (lines[0] ?? '') : `${lines[0]} ${lines.slice(1).join('; ')}`;
}
