# Kernel cases for the page-frame allocator (sourced by tools/kernel-tests.sh).

# meminfo must agree with the memory QEMU was given and with itself:
#   MemFree + MemUsed == MemTotal; the buddyinfo counts add up to MemFree;
#   MemTotal + Reserved accounts for all of the RAM but the BIOS holes
#   (QEMU reserves 0x9FC00-0xFFFFF and the top 128 KiB).
check_meminfo_for() {  # check_meminfo_for RAM_MIB
  local ram_kb=$(($1 * 1024))
  local total free used reserved
  total=$(field MemTotal) free=$(field MemFree) used=$(field MemUsed) reserved=$(field Reserved)
  if [ -z "$total" ] || [ -z "$free" ] || [ -z "$used" ] || [ -z "$reserved" ]; then
    problems+=("meminfo lines missing (MemTotal/MemFree/MemUsed/Reserved)"); return
  fi
  [ $((free + used)) = "$total" ] || problems+=("MemFree $free + MemUsed $used != MemTotal $total")
  local accounted=$((total + reserved)) lo=$((ram_kb - 1024 - 128 - 8))
  [ "$accounted" -le "$ram_kb" ] && [ "$accounted" -ge "$lo" ] ||
    problems+=("MemTotal + Reserved = $accounted kB, expected between $lo and $ram_kb for $1 MiB of RAM")
  local counts sum=0 k=0
  counts=$(grep -E '^Buddyinfo:' "$log" | head -1 | sed 's/.*order://')
  for c in $counts; do sum=$((sum + c * 4 * (1 << k))); k=$((k + 1)); done
  [ "$k" = 11 ] || problems+=("buddyinfo should list 11 orders, saw $k")
  [ "$sum" = "$free" ] || problems+=("buddyinfo adds up to $sum kB but MemFree is $free kB")
  # Exactly: MemTotal + Reserved == the normalized map's usable + reserved-away kB (from `mmap`).
  local usable took
  usable=$(sed -n 's/^Usable: \([0-9]*\) kB, reserved ranges took \([0-9]*\) kB.*/\1/p' "$log")
  took=$(sed -n 's/^Usable: \([0-9]*\) kB, reserved ranges took \([0-9]*\) kB.*/\2/p' "$log")
  if [ -z "$usable" ]; then problems+=("no 'Usable: ... kB' line from mmap")
  elif [ $((usable + took)) != "$accounted" ]; then
    problems+=("MemTotal + Reserved = $accounted kB but the map says usable $usable + reserved $took kB")
  fi
  echo "    MemTotal $total kB, MemFree $free kB, Reserved $reserved kB (RAM $ram_kb kB)"
}
check_meminfo_32()   { check_meminfo_for 32;   expect '^Buddyinfo: free blocks per order'; }
check_meminfo_128()  { check_meminfo_for 128;  expect 'usable' 'mmap lists usable regions'; expect 'kernel image'; }
check_meminfo_512()  { check_meminfo_for 512; }
check_meminfo_3G()   { check_meminfo_for 3072; }

run_case meminfo-32M  32M  60 0 "mmap; meminfo; exit 0" check_meminfo_32
run_case meminfo-128M 128M 60 0 "mmap; meminfo; exit 0" check_meminfo_128
run_case meminfo-512M 512M 60 0 "mmap; meminfo; exit 0" check_meminfo_512
run_case meminfo-3G   3G   90 0 "mmap; meminfo; exit 0" check_meminfo_3G
