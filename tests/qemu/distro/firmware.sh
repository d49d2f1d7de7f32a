# shellcheck shell=sh
# firmware RELEASE: which firmware boots a distro guest (tests/qemu/distro.sh,
# image.sh): "uefi" (OVMF; GRUB as an EFI program on an EFI system
# partition) for trixie, "bios" (SeaBIOS; GRUB in the BIOS boot partition)
# for the others.  One UEFI guest, not a fourth guest: the scenario's time.
firmware() {
    case "$1" in
        trixie) echo uefi ;;
        *) echo bios ;;
    esac
}
