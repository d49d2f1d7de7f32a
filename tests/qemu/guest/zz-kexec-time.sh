# shellcheck shell=sh
start_workload 384 256
cp /usr/lib/khib/khib-initrd.img /tmp/i.img
time kexec --load-preserve-context --mem-min=0x0 --mem-max=0xbffffff --initrd=/tmp/i.img --append=x /boot/khib/vmlinuz
kexec -u
time kexec --load-preserve-context --mem-min=0x0 --mem-max=0xbffffff --initrd=/tmp/i.img --append=x /boot/khib/vmlinuz
kexec -u
time kexec -l --initrd=/tmp/i.img --append=x /boot/khib/vmlinuz
kexec -u
