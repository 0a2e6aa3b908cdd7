# SPDX-License-Identifier: MIT
# virtio-blk: the driver binds, negotiates the automotive features, shows
# the configured limits and cache mode, and switching the cache mode
# reaches the device: virtio-blk's cache_type attribute writes the
# device's `writeback` config field and Linux re-reads it from the device
# (and updates the block layer's write_cache to match).
d=$(param vdev.disk)
d=${d:-vda}
check driver-bound wait_for /sys/block/$d 20
f=$(cat /sys/block/$d/device/features 2>/dev/null)
info features "$f"
bit() { echo "$f" | cut -c$(($1 + 1)); }
for nb in FLUSH:9 CONFIG_WCE:11 DISCARD:13 WRITE_ZEROES:14; do
	expect "negotiated-${nb%:*}" "$(bit ${nb#*:})" 1
done
q=/sys/block/$d/queue
expect discard-max-bytes "$(cat $q/discard_max_bytes)" "$(param vdev.expect.discard_max_bytes)"
expect discard-granularity "$(cat $q/discard_granularity)" "$(param vdev.expect.discard_granularity)"
expect write-zeroes-max-bytes "$(cat $q/write_zeroes_max_bytes)" "$(param vdev.expect.write_zeroes_max_bytes)"
ct=/sys/block/$d/cache_type
expect cache-mode "$(cat $ct)" "$(param vdev.expect.cache_type | tr _ ' ')"
expect queue-write-cache "$(cat $q/write_cache)" "$(param vdev.expect.cache_type | tr _ ' ')"
check set-write-back sh -c "echo 'write back' >$ct"
expect device-says-write-back "$(cat $ct)" "write back"
expect queue-follows-write-back "$(cat $q/write_cache)" "write back"
check set-write-through sh -c "echo 'write through' >$ct"
expect device-says-write-through "$(cat $ct)" "write through"
expect queue-follows-write-through "$(cat $q/write_cache)" "write through"
echo "write back" >$ct
