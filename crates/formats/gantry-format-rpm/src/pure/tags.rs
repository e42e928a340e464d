//! The header tags Gantry reads (numbers from rpm's `rpmtag.h`).

pub(super) const NAME: u32 = 1000;
pub(super) const VERSION: u32 = 1001;
pub(super) const RELEASE: u32 = 1002;
pub(super) const EPOCH: u32 = 1003;
pub(super) const SUMMARY: u32 = 1004;
pub(super) const DESCRIPTION: u32 = 1005;
pub(super) const BUILDTIME: u32 = 1006;
pub(super) const BUILDHOST: u32 = 1007;
pub(super) const SIZE: u32 = 1009;
pub(super) const VENDOR: u32 = 1011;
pub(super) const LICENSE: u32 = 1014;
pub(super) const PACKAGER: u32 = 1015;
pub(super) const GROUP: u32 = 1016;
pub(super) const URL: u32 = 1020;
pub(super) const ARCH: u32 = 1022;
pub(super) const OLDFILENAMES: u32 = 1027;
pub(super) const FILEMODES: u32 = 1030;
pub(super) const FILEFLAGS: u32 = 1037;
pub(super) const SOURCERPM: u32 = 1044;
pub(super) const ARCHIVESIZE: u32 = 1046;
pub(super) const PROVIDENAME: u32 = 1047;
pub(super) const REQUIREFLAGS: u32 = 1048;
pub(super) const REQUIRENAME: u32 = 1049;
pub(super) const REQUIREVERSION: u32 = 1050;
pub(super) const CONFLICTFLAGS: u32 = 1053;
pub(super) const CONFLICTNAME: u32 = 1054;
pub(super) const CONFLICTVERSION: u32 = 1055;
pub(super) const CHANGELOGTIME: u32 = 1080;
pub(super) const CHANGELOGNAME: u32 = 1081;
pub(super) const CHANGELOGTEXT: u32 = 1082;
pub(super) const OBSOLETENAME: u32 = 1090;
pub(super) const PROVIDEFLAGS: u32 = 1112;
pub(super) const PROVIDEVERSION: u32 = 1113;
pub(super) const OBSOLETEFLAGS: u32 = 1114;
pub(super) const OBSOLETEVERSION: u32 = 1115;
pub(super) const DIRINDEXES: u32 = 1116;
pub(super) const BASENAMES: u32 = 1117;
pub(super) const DIRNAMES: u32 = 1118;
pub(super) const LONGARCHIVESIZE: u32 = 271;
pub(super) const LONGSIZE: u32 = 5009;

/// In the signature header: the size of the uncompressed payload.
pub(super) const SIG_PAYLOADSIZE: u32 = 1007;
