// Built-in networks. Facts from Bitcoin Core's chainparams; forks bring their own
// through a custom network definition (see schema.ts).

/** Bitcoin's mainnet proof-of-work limit, shared by testnet3 and testnet4. */
const MAIN_POW_LIMIT = '00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff';

export const NETWORK_PRESETS = {
  mainnet: {
    name: 'mainnet',
    magic: 'f9beb4d9',
    port: 8333,
    genesisHash: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    genesisHeader: {
      version: 1,
      merkleRoot: '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b',
      time: 1231006505,
      bits: 0x1d00ffff,
      nonce: 2083236893,
    },
    protocolVersion: 70016,
    services: 0n,
    dnsSeeds: [
      'seed.bitcoin.sipa.be',
      'dnsseed.bluematt.me',
      'seed.bitcoin.jonasschnelli.ch',
      'seed.btc.petertodd.net',
      'seed.bitcoin.sprovoost.nl',
      'dnsseed.emzy.de',
      'seed.bitcoin.wiz.biz',
      'seed.mainnet.achownodes.xyz',
    ],
    // Core's fixed seeds (chainparamsseeds.h) are generated from crawls and are not
    // reproduced here unverified: DNS seeds or manual peers bootstrap instead.
    fixedSeeds: [],
    segwitHeight: 481_824,
    versionHeights: { bip34: 227931, bip66: 363725, bip65: 388381 },
    pow: {
      check: true,
      limit: MAIN_POW_LIMIT,
      retarget: { interval: 2016, targetTimespanSeconds: 14 * 24 * 60 * 60 },
      allowMinDifficulty: false,
    },
  },
  testnet3: {
    name: 'testnet3',
    magic: '0b110907',
    port: 18333,
    genesisHash: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
    genesisHeader: {
      version: 1,
      merkleRoot: '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b',
      time: 1296688602,
      bits: 0x1d00ffff,
      nonce: 414098458,
    },
    protocolVersion: 70016,
    services: 0n,
    dnsSeeds: [
      'testnet-seed.bitcoin.jonasschnelli.ch',
      'seed.tbtc.petertodd.net',
      'seed.testnet.bitcoin.sprovoost.nl',
      'testnet-seed.bluematt.me',
      'seed.testnet.achownodes.xyz',
    ],
    fixedSeeds: [],
    segwitHeight: 834_624,
    versionHeights: { bip34: 21111, bip66: 330776, bip65: 581885 },
    pow: {
      check: true,
      limit: MAIN_POW_LIMIT,
      retarget: { interval: 2016, targetTimespanSeconds: 14 * 24 * 60 * 60 },
      allowMinDifficulty: true,
    },
  },
  testnet4: {
    name: 'testnet4',
    magic: '1c163f28',
    port: 48333,
    genesisHash: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
    genesisHeader: {
      version: 1,
      merkleRoot: '7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e',
      time: 1714777860,
      bits: 0x1d00ffff,
      nonce: 393743547,
    },
    protocolVersion: 70016,
    services: 0n,
    dnsSeeds: ['seed.testnet4.bitcoin.sprovoost.nl', 'seed.testnet4.wiz.biz'],
    fixedSeeds: [],
    segwitHeight: 1,
    versionHeights: { bip34: 1, bip66: 1, bip65: 1 },
    pow: {
      check: true,
      limit: MAIN_POW_LIMIT,
      retarget: { interval: 2016, targetTimespanSeconds: 14 * 24 * 60 * 60 },
      allowMinDifficulty: true,
      bip94: true,
    },
  },
  signet: {
    name: 'signet',
    magic: '0a03cf40',
    port: 38333,
    genesisHash: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
    genesisHeader: {
      version: 1,
      merkleRoot: '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b',
      time: 1598918400,
      bits: 0x1e0377ae,
      nonce: 52613770,
    },
    protocolVersion: 70016,
    services: 0n,
    dnsSeeds: ['seed.signet.bitcoin.sprovoost.nl', 'seed.signet.achownodes.xyz'],
    fixedSeeds: [],
    segwitHeight: 1,
    versionHeights: { bip34: 1, bip66: 1, bip65: 1 },
    pow: {
      check: true,
      limit: '00000377ae000000000000000000000000000000000000000000000000000000',
      retarget: { interval: 2016, targetTimespanSeconds: 14 * 24 * 60 * 60 },
      allowMinDifficulty: false,
    },
  },
  regtest: {
    name: 'regtest',
    magic: 'fabfb5da',
    port: 18444,
    genesisHash: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    genesisHeader: {
      version: 1,
      merkleRoot: '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b',
      time: 1296688602,
      bits: 0x207fffff,
      nonce: 2,
    },
    protocolVersion: 70016,
    services: 0n,
    dnsSeeds: [],
    fixedSeeds: [],
    segwitHeight: 0,
    versionHeights: { bip34: 1, bip66: 1, bip65: 1 },
    pow: {
      check: true,
      limit: '7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
      // Regtest never retargets.
      retarget: null,
      allowMinDifficulty: true,
    },
  },
} as const;

export type PresetName = keyof typeof NETWORK_PRESETS;
export const PRESET_NAMES = Object.keys(NETWORK_PRESETS) as PresetName[];
