(module
 (type $0 (func (param i32 i32) (result i32)))
 (type $1 (func (result i32)))
 (type $2 (func (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
 (type $3 (func (param i32 i32 i32 i32 i32) (result i32)))
 (type $4 (func (param i32 i32 f64 i32 i32) (result i32)))
 (import "env" "memory" (memory $0 1 16384 shared))
 (global $assembly/guacamole/invalidAt (mut i32) (i32.const 0))
 (global $assembly/guacamole/errorAt (mut i32) (i32.const 0))
 (global $assembly/guacamole/hint (mut i32) (i32.const 0))
 (data $0 (i32.const 1024) "\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00\00")
 (export "heapBase" (func $assembly/index/heapBase))
 (export "simd" (func $assembly/index/simd))
 (export "encodeFrame" (func $assembly/frames/encodeFrame))
 (export "walkFrames" (func $assembly/frames/walkFrames))
 (export "scanInstructions" (func $assembly/guacamole/scanInstructions))
 (export "countCodePoints" (func $assembly/utf8/countCodePoints))
 (export "validateUtf8" (func $assembly/utf8/validateUtf8))
 (export "memory" (memory $0))
 (func $assembly/utf8/validateSimd (param $0 i32) (param $1 i32) (result i32)
  (local $2 v128)
  (local $3 v128)
  (local $4 v128)
  (local $5 v128)
  (local $6 v128)
  (local $7 v128)
  (local $8 v128)
  loop $while-continue|0
   local.get $1
   local.get $0
   i32.sub
   i32.const 64
   i32.ge_u
   if
    local.get $0
    v128.load
    local.tee $6
    local.get $0
    v128.load offset=16
    local.tee $7
    v128.or
    local.get $0
    v128.load offset=32
    local.tee $8
    local.get $0
    v128.load offset=48
    local.tee $3
    v128.or
    v128.or
    i8x16.bitmask
    if (result v128)
     local.get $5
     local.get $2
     local.get $6
     i8x16.shuffle 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
     v128.const i32x4 0x60606060 0x60606060 0x60606060 0x60606060
     i8x16.sub_sat_u
     local.get $2
     local.get $6
     i8x16.shuffle 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
     v128.const i32x4 0x70707070 0x70707070 0x70707070 0x70707070
     i8x16.sub_sat_u
     v128.or
     v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080
     v128.and
     v128.const i32x4 0x02020202 0x02020202 0x80808080 0x49150121
     local.get $2
     local.get $6
     i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
     local.tee $2
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.const i32x4 0x8383a3e7 0xcbcbcb8b 0xcbcbcbcb 0xcbcbdbcb
     local.get $2
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.const i32x4 0x01010101 0x01010101 0xbabaaee6 0x01010101
     local.get $6
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.xor
     v128.or
     local.get $6
     local.get $7
     i8x16.shuffle 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
     v128.const i32x4 0x60606060 0x60606060 0x60606060 0x60606060
     i8x16.sub_sat_u
     local.get $6
     local.get $7
     i8x16.shuffle 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
     v128.const i32x4 0x70707070 0x70707070 0x70707070 0x70707070
     i8x16.sub_sat_u
     v128.or
     v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080
     v128.and
     v128.const i32x4 0x02020202 0x02020202 0x80808080 0x49150121
     local.get $6
     local.get $7
     i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
     local.tee $2
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.const i32x4 0x8383a3e7 0xcbcbcb8b 0xcbcbcbcb 0xcbcbdbcb
     local.get $2
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.const i32x4 0x01010101 0x01010101 0xbabaaee6 0x01010101
     local.get $7
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.xor
     v128.or
     local.get $7
     local.get $8
     i8x16.shuffle 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
     v128.const i32x4 0x60606060 0x60606060 0x60606060 0x60606060
     i8x16.sub_sat_u
     local.get $7
     local.get $8
     i8x16.shuffle 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
     v128.const i32x4 0x70707070 0x70707070 0x70707070 0x70707070
     i8x16.sub_sat_u
     v128.or
     v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080
     v128.and
     v128.const i32x4 0x02020202 0x02020202 0x80808080 0x49150121
     local.get $7
     local.get $8
     i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
     local.tee $2
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.const i32x4 0x8383a3e7 0xcbcbcb8b 0xcbcbcbcb 0xcbcbdbcb
     local.get $2
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.const i32x4 0x01010101 0x01010101 0xbabaaee6 0x01010101
     local.get $8
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.xor
     v128.or
     local.get $8
     local.get $3
     i8x16.shuffle 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
     v128.const i32x4 0x60606060 0x60606060 0x60606060 0x60606060
     i8x16.sub_sat_u
     local.get $8
     local.get $3
     i8x16.shuffle 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
     v128.const i32x4 0x70707070 0x70707070 0x70707070 0x70707070
     i8x16.sub_sat_u
     v128.or
     v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080
     v128.and
     v128.const i32x4 0x02020202 0x02020202 0x80808080 0x49150121
     local.get $8
     local.get $3
     i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
     local.tee $2
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.const i32x4 0x8383a3e7 0xcbcbcb8b 0xcbcbcbcb 0xcbcbdbcb
     local.get $2
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.const i32x4 0x01010101 0x01010101 0xbabaaee6 0x01010101
     local.get $3
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.xor
     v128.or
     local.set $5
     local.get $3
     v128.const i32x4 0xffffffff 0xffffffff 0xffffffff 0xbfdfefff
     i8x16.sub_sat_u
    else
     local.get $5
     local.get $4
     v128.or
     local.set $5
     v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    end
    local.set $4
    local.get $3
    local.set $2
    local.get $0
    i32.const -64
    i32.sub
    local.set $0
    br $while-continue|0
   end
  end
  loop $while-continue|1
   local.get $1
   local.get $0
   i32.sub
   i32.const 16
   i32.ge_u
   if
    local.get $0
    v128.load
    local.tee $3
    i8x16.bitmask
    if (result v128)
     local.get $5
     local.get $2
     local.get $3
     i8x16.shuffle 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
     v128.const i32x4 0x60606060 0x60606060 0x60606060 0x60606060
     i8x16.sub_sat_u
     local.get $2
     local.get $3
     i8x16.shuffle 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
     v128.const i32x4 0x70707070 0x70707070 0x70707070 0x70707070
     i8x16.sub_sat_u
     v128.or
     v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080
     v128.and
     v128.const i32x4 0x02020202 0x02020202 0x80808080 0x49150121
     local.get $2
     local.get $3
     i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
     local.tee $2
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.const i32x4 0x8383a3e7 0xcbcbcb8b 0xcbcbcbcb 0xcbcbdbcb
     local.get $2
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.const i32x4 0x01010101 0x01010101 0xbabaaee6 0x01010101
     local.get $3
     i32.const 4
     i16x8.shr_u
     v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
     v128.and
     i8x16.swizzle
     v128.and
     v128.xor
     v128.or
     local.set $5
     local.get $3
     v128.const i32x4 0xffffffff 0xffffffff 0xffffffff 0xbfdfefff
     i8x16.sub_sat_u
    else
     local.get $5
     local.get $4
     v128.or
     local.set $5
     v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    end
    local.set $4
    local.get $3
    local.set $2
    local.get $0
    i32.const 16
    i32.add
    local.set $0
    br $while-continue|1
   end
  end
  local.get $0
  local.get $1
  i32.lt_u
  if
   i32.const 1024
   v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
   v128.store
   i32.const 1024
   local.get $0
   local.get $1
   local.get $0
   i32.sub
   memory.copy
   local.get $2
   i32.const 1024
   v128.load
   local.tee $3
   i8x16.shuffle 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
   local.set $4
   local.get $5
   local.get $2
   local.get $3
   i8x16.shuffle 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
   v128.const i32x4 0x60606060 0x60606060 0x60606060 0x60606060
   i8x16.sub_sat_u
   local.get $2
   local.get $3
   i8x16.shuffle 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
   v128.const i32x4 0x70707070 0x70707070 0x70707070 0x70707070
   i8x16.sub_sat_u
   v128.or
   v128.const i32x4 0x80808080 0x80808080 0x80808080 0x80808080
   v128.and
   v128.const i32x4 0x02020202 0x02020202 0x80808080 0x49150121
   local.get $4
   i32.const 4
   i16x8.shr_u
   v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
   v128.and
   i8x16.swizzle
   v128.const i32x4 0x8383a3e7 0xcbcbcb8b 0xcbcbcbcb 0xcbcbdbcb
   local.get $4
   v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
   v128.and
   i8x16.swizzle
   v128.and
   v128.const i32x4 0x01010101 0x01010101 0xbabaaee6 0x01010101
   local.get $3
   i32.const 4
   i16x8.shr_u
   v128.const i32x4 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f 0x0f0f0f0f
   v128.and
   i8x16.swizzle
   v128.and
   v128.xor
   v128.or
   local.set $5
   local.get $3
   v128.const i32x4 0xffffffff 0xffffffff 0xffffffff 0xbfdfefff
   i8x16.sub_sat_u
   local.set $4
  end
  local.get $5
  local.get $4
  v128.or
  v128.any_true
  i32.eqz
 )
 (func $assembly/utf8/validateUtf8 (param $0 i32) (param $1 i32) (result i32)
  local.get $0
  local.get $0
  local.get $1
  i32.add
  call $assembly/utf8/validateSimd
 )
 (func $assembly/utf8/countCodePoints (param $0 i32) (param $1 i32) (result i32)
  (local $2 v128)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  local.get $0
  local.get $1
  i32.add
  local.set $4
  loop $while-continue|0
   local.get $4
   local.get $0
   i32.sub
   local.tee $5
   i32.const 16
   i32.ge_u
   if
    local.get $0
    local.get $5
    i32.const 4
    i32.shr_u
    local.tee $5
    i32.const 255
    i32.gt_u
    if (result i32)
     i32.const 255
    else
     local.get $5
    end
    i32.const 4
    i32.shl
    i32.add
    local.set $5
    v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
    local.set $2
    loop $while-continue|1
     local.get $0
     local.get $5
     i32.lt_u
     if
      local.get $2
      local.get $0
      v128.load
      v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
      i8x16.lt_s
      i8x16.sub
      local.set $2
      local.get $0
      i32.const 16
      i32.add
      local.set $0
      br $while-continue|1
     end
    end
    local.get $3
    local.get $2
    i16x8.extadd_pairwise_i8x16_u
    i32x4.extadd_pairwise_i16x8_u
    local.tee $2
    i32x4.extract_lane 0
    local.get $2
    i32x4.extract_lane 1
    i32.add
    local.get $2
    i32x4.extract_lane 2
    i32.add
    local.get $2
    i32x4.extract_lane 3
    i32.add
    i32.add
    local.set $3
    br $while-continue|0
   end
  end
  loop $while-continue|2
   local.get $0
   local.get $4
   i32.lt_u
   if
    local.get $3
    local.get $0
    i32.load8_u
    i32.const 192
    i32.and
    i32.const 128
    i32.eq
    i32.add
    local.set $3
    local.get $0
    i32.const 1
    i32.add
    local.set $0
    br $while-continue|2
   end
  end
  local.get $1
  local.get $3
  i32.sub
 )
 (func $assembly/index/simd (result i32)
  i32.const 1
 )
 (func $assembly/index/heapBase (result i32)
  i32.const 1040
 )
 (func $assembly/guacamole/scanInstructions (param $0 i32) (param $1 i32) (param $2 i32) (param $3 i32) (param $4 i32) (param $5 i32) (param $6 i32) (param $7 i32) (result i32)
  (local $8 i32)
  (local $9 i32)
  (local $10 i32)
  (local $11 i32)
  (local $12 i32)
  (local $13 i32)
  (local $14 i32)
  (local $15 i32)
  (local $16 i32)
  (local $17 i32)
  (local $18 i32)
  (local $19 v128)
  (local $20 i32)
  (local $21 i32)
  (local $22 i32)
  (local $23 i32)
  (local $24 i32)
  (local $25 v128)
  (local $26 v128)
  (local $27 v128)
  local.get $7
  i32.eqz
  if
   local.get $3
   local.set $7
   local.get $5
   local.set $8
   local.get $6
   local.set $10
   local.get $0
   local.tee $11
   local.get $1
   i32.add
   local.set $15
   local.get $0
   local.set $3
   i32.const 0
   local.set $1
   local.get $2
   local.tee $12
   i32.const 32
   i32.add
   local.set $21
   i32.const 0
   global.set $assembly/guacamole/hint
   i32.const 0
   global.set $assembly/guacamole/errorAt
   loop $while-continue|0
    block $while-break|0
     local.get $7
     local.get $18
     i32.eq
     if
      i32.const 1
      local.set $9
      br $while-break|0
     end
     local.get $3
     local.set $0
     i32.const 0
     local.set $22
     local.get $1
     local.set $2
     i32.const 0
     local.set $20
     loop $while-continue|1
      block $while-break|1
       i32.const 0
       local.set $5
       i32.const 0
       local.set $16
       local.get $0
       local.set $6
       loop $while-continue|2
        block $while-break|2
         local.get $0
         local.get $15
         i32.ge_u
         if
          i32.const 1
          local.set $20
          local.get $15
          i32.const 1
          i32.add
          global.set $assembly/guacamole/hint
          br $while-break|2
         end
         local.get $0
         i32.load8_u
         i32.const 48
         i32.sub
         local.tee $13
         i32.const 10
         i32.lt_u
         if (result i32)
          local.get $16
          i32.const 7
          i32.eq
          if
           i32.const -3
           local.set $9
           local.get $0
           global.set $assembly/guacamole/errorAt
           br $while-break|2
          end
          local.get $5
          i32.const 10
          i32.mul
          local.get $13
          i32.add
          local.set $5
          local.get $16
          i32.const 1
          i32.add
          local.set $16
          local.get $0
          i32.const 1
          i32.add
         else
          local.get $13
          i32.const -2
          i32.eq
          local.get $16
          i32.const 0
          i32.ne
          i32.and
          if
           local.get $0
           i32.const 1
           i32.add
           local.set $0
          else
           i32.const -1
           local.set $9
           local.get $0
           global.set $assembly/guacamole/errorAt
          end
          br $while-break|2
         end
         local.set $0
         br $while-continue|2
        end
       end
       local.get $9
       local.get $20
       i32.or
       br_if $while-break|1
       local.get $5
       i32.const 8388608
       i32.gt_u
       if
        i32.const -3
        local.set $9
        local.get $6
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $10
       i64.extend_i32_u
       local.get $0
       local.get $3
       i32.sub
       i64.extend_i32_u
       local.get $5
       i64.extend_i32_u
       i64.add
       i64.const 1
       i64.add
       i64.lt_u
       if
        i32.const -5
        local.set $9
        local.get $3
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $0
       local.set $14
       block $assembly/guacamole/skipCounting|inlined.0
        local.get $5
        local.tee $6
        i32.const 16
        i32.ge_u
        if
         loop $while-continue|5
          local.get $15
          local.get $0
          i32.sub
          i32.const 256
          i32.ge_u
          local.get $6
          i32.const 256
          i32.ge_u
          i32.and
          if
           v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
           local.set $19
           i32.const 0
           local.set $16
           loop $for-loop|6
            local.get $16
            i32.const 256
            i32.lt_u
            if
             local.get $19
             local.get $0
             local.get $16
             i32.add
             v128.load
             v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
             i8x16.lt_s
             i8x16.sub
             local.set $19
             local.get $16
             i32.const 16
             i32.add
             local.set $16
             br $for-loop|6
            end
           end
           local.get $6
           i32.const 256
           local.get $19
           i16x8.extadd_pairwise_i8x16_u
           i32x4.extadd_pairwise_i16x8_u
           local.tee $19
           i32x4.extract_lane 0
           local.get $19
           i32x4.extract_lane 1
           i32.add
           local.get $19
           i32x4.extract_lane 2
           i32.add
           local.get $19
           i32x4.extract_lane 3
           i32.add
           i32.sub
           i32.sub
           local.set $6
           local.get $0
           i32.const 256
           i32.add
           local.set $0
           br $while-continue|5
          end
         end
         loop $while-continue|7
          local.get $15
          local.get $0
          i32.sub
          i32.const 64
          i32.ge_u
          local.get $6
          i32.const 64
          i32.ge_u
          i32.and
          if
           local.get $0
           v128.load
           local.tee $19
           local.get $0
           v128.load offset=16
           local.tee $25
           v128.or
           local.get $0
           v128.load offset=32
           local.tee $26
           local.get $0
           v128.load offset=48
           local.tee $27
           v128.or
           v128.or
           i8x16.bitmask
           if (result i32)
            local.get $6
            i32.const 64
            local.get $27
            v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
            i8x16.lt_s
            i8x16.bitmask
            i32.popcnt
            local.get $26
            v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
            i8x16.lt_s
            i8x16.bitmask
            i32.popcnt
            local.get $19
            v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
            i8x16.lt_s
            i8x16.bitmask
            i32.popcnt
            local.get $25
            v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
            i8x16.lt_s
            i8x16.bitmask
            i32.popcnt
            i32.add
            i32.add
            i32.add
            i32.sub
            i32.sub
           else
            local.get $6
            i32.const -64
            i32.add
           end
           local.set $6
           local.get $0
           i32.const -64
           i32.sub
           local.set $0
           br $while-continue|7
          end
         end
         loop $while-continue|8
          local.get $15
          local.get $0
          i32.sub
          i32.const 16
          i32.ge_u
          if
           local.get $0
           v128.load
           v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
           i8x16.lt_s
           i8x16.bitmask
           i32.const -1
           i32.xor
           i32.const 65535
           i32.and
           local.tee $16
           i32.popcnt
           local.tee $13
           local.get $6
           i32.gt_u
           if
            i32.const 0
            local.set $13
            loop $for-loop|9
             local.get $6
             local.get $13
             i32.gt_u
             if
              local.get $16
              local.get $16
              i32.const 1
              i32.sub
              i32.and
              local.set $16
              local.get $13
              i32.const 1
              i32.add
              local.set $13
              br $for-loop|9
             end
            end
            local.get $0
            local.get $16
            i32.ctz
            i32.add
            local.set $0
            br $assembly/guacamole/skipCounting|inlined.0
           end
           local.get $6
           local.get $13
           i32.sub
           local.set $6
           local.get $0
           i32.const 16
           i32.add
           local.set $0
           br $while-continue|8
          end
         end
        end
        loop $while-continue|10
         local.get $0
         local.get $15
         i32.lt_u
         if
          local.get $0
          i32.load8_u
          i32.const 192
          i32.and
          i32.const 128
          i32.ne
          if
           local.get $6
           i32.eqz
           br_if $assembly/guacamole/skipCounting|inlined.0
           local.get $6
           i32.const 1
           i32.sub
           local.set $6
          end
          local.get $0
          i32.const 1
          i32.add
          local.set $0
          br $while-continue|10
         end
        end
        i32.const -1
        local.set $0
       end
       local.get $0
       i32.const -1
       i32.eq
       if
        i32.const 1
        local.set $20
        local.get $5
        local.get $14
        i32.add
        i32.const 1
        i32.add
        local.tee $5
        local.get $15
        i32.const 1
        i32.add
        local.tee $6
        local.get $5
        local.get $6
        i32.gt_u
        select
        global.set $assembly/guacamole/hint
        br $while-break|1
       end
       local.get $0
       i32.const -2
       i32.eq
       if
        i32.const -2
        local.set $9
        global.get $assembly/guacamole/invalidAt
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $0
       local.get $15
       i32.ge_u
       if
        i32.const 1
        local.set $20
        local.get $15
        i32.const 1
        i32.add
        global.set $assembly/guacamole/hint
        br $while-break|1
       end
       local.get $0
       i32.load8_u
       local.tee $5
       i32.const 44
       i32.ne
       local.get $5
       i32.const 59
       i32.ne
       i32.and
       if
        i32.const -1
        local.set $9
        local.get $0
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $22
       i32.const 127
       i32.eq
       local.get $5
       i32.const 44
       i32.eq
       i32.and
       if
        i32.const -4
        local.set $9
        local.get $0
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $1
       local.get $8
       i32.eq
       if
        i32.const 1
        local.set $9
        br $while-break|1
       end
       local.get $4
       local.get $1
       i32.const 3
       i32.shl
       i32.add
       local.tee $6
       local.get $14
       local.get $11
       i32.sub
       i32.store
       local.get $6
       local.get $0
       local.get $14
       i32.sub
       i32.store offset=4
       local.get $1
       i32.const 1
       i32.add
       local.set $1
       local.get $22
       i32.const 1
       i32.add
       local.set $22
       local.get $0
       i32.const 1
       i32.add
       local.set $0
       local.get $5
       i32.const 59
       i32.ne
       br_if $while-continue|1
      end
     end
     local.get $20
     if
      local.get $2
      local.set $1
      local.get $15
      local.get $3
      i32.sub
      i64.extend_i32_u
      local.get $10
      i64.extend_i32_u
      i64.ge_u
      if
       local.get $3
       global.set $assembly/guacamole/errorAt
       i32.const -5
       local.set $9
      end
      br $while-break|0
     end
     local.get $9
     if
      local.get $2
      local.set $1
      br $while-break|0
     end
     local.get $0
     local.get $3
     i32.sub
     i64.extend_i32_u
     local.get $10
     i64.extend_i32_u
     i64.gt_u
     if (result i32)
      i32.const -5
      local.set $9
      local.get $3
      global.set $assembly/guacamole/errorAt
      local.get $2
     else
      local.get $21
      local.get $3
      local.get $11
      i32.sub
      i32.store
      local.get $21
      local.get $0
      local.get $11
      i32.sub
      i32.store offset=4
      local.get $21
      local.get $2
      i32.store offset=8
      local.get $21
      local.get $22
      i32.store offset=12
      local.get $21
      i32.const 16
      i32.add
      local.set $21
      local.get $18
      i32.const 1
      i32.add
      local.set $18
      local.get $0
      local.set $3
      br $while-continue|0
     end
     local.set $1
    end
   end
   local.get $12
   local.get $18
   i32.store
   local.get $12
   local.get $3
   local.get $11
   i32.sub
   i32.store offset=4
   local.get $12
   local.get $9
   i32.store offset=8
   local.get $12
   local.get $1
   i32.store offset=12
   local.get $12
   global.get $assembly/guacamole/hint
   local.get $11
   i32.sub
   i32.const 0
   global.get $assembly/guacamole/hint
   select
   i32.store offset=16
   local.get $12
   global.get $assembly/guacamole/errorAt
   local.get $11
   i32.sub
   i32.const 0
   local.get $9
   i32.const 0
   i32.lt_s
   select
   i32.store offset=20
   local.get $9
   return
  end
  local.get $0
  local.get $1
  i32.add
  local.set $24
  local.get $0
  local.set $10
  local.get $2
  i32.const 32
  i32.add
  local.set $20
  i32.const 0
  global.set $assembly/guacamole/hint
  i32.const 0
  global.set $assembly/guacamole/errorAt
  loop $while-continue|11
   block $while-break|11
    local.get $3
    local.get $22
    i32.eq
    if
     i32.const 1
     local.set $13
     br $while-break|11
    end
    local.get $10
    local.set $7
    i32.const 0
    local.set $16
    local.get $11
    local.set $12
    i32.const 0
    local.set $23
    loop $while-continue|12
     block $while-break|12
      i32.const 0
      local.set $14
      i32.const 0
      local.set $17
      local.get $7
      local.set $8
      loop $while-continue|13
       block $while-break|13
        local.get $7
        local.get $24
        i32.ge_u
        if
         i32.const 1
         local.set $23
         local.get $24
         i32.const 1
         i32.add
         global.set $assembly/guacamole/hint
         br $while-break|13
        end
        local.get $7
        i32.load8_u
        i32.const 48
        i32.sub
        local.tee $15
        i32.const 10
        i32.lt_u
        if (result i32)
         local.get $17
         i32.const 7
         i32.eq
         if
          i32.const -3
          local.set $13
          local.get $7
          global.set $assembly/guacamole/errorAt
          br $while-break|13
         end
         local.get $14
         i32.const 10
         i32.mul
         local.get $15
         i32.add
         local.set $14
         local.get $17
         i32.const 1
         i32.add
         local.set $17
         local.get $7
         i32.const 1
         i32.add
        else
         local.get $15
         i32.const -2
         i32.eq
         local.get $17
         i32.const 0
         i32.ne
         i32.and
         if
          local.get $7
          i32.const 1
          i32.add
          local.set $7
         else
          i32.const -1
          local.set $13
          local.get $7
          global.set $assembly/guacamole/errorAt
         end
         br $while-break|13
        end
        local.set $7
        br $while-continue|13
       end
      end
      local.get $13
      local.get $23
      i32.or
      br_if $while-break|12
      local.get $14
      i32.const 8388608
      i32.gt_u
      if
       i32.const -3
       local.set $13
       local.get $8
       global.set $assembly/guacamole/errorAt
       br $while-break|12
      end
      local.get $6
      i64.extend_i32_u
      local.get $7
      local.get $10
      i32.sub
      i64.extend_i32_u
      local.get $14
      i64.extend_i32_u
      i64.add
      i64.const 1
      i64.add
      i64.lt_u
      if
       i32.const -5
       local.set $13
       local.get $10
       global.set $assembly/guacamole/errorAt
       br $while-break|12
      end
      local.get $7
      local.set $15
      block $assembly/guacamole/skipCounting|inlined.1
       local.get $14
       local.tee $8
       i32.const 16
       i32.ge_u
       if
        loop $while-continue|16
         local.get $24
         local.get $7
         i32.sub
         i32.const 256
         i32.ge_u
         local.get $8
         i32.const 256
         i32.ge_u
         i32.and
         if
          v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
          local.set $19
          i32.const 0
          local.set $17
          loop $for-loop|17
           local.get $17
           i32.const 256
           i32.lt_u
           if
            local.get $19
            local.get $7
            local.get $17
            i32.add
            v128.load
            v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
            i8x16.lt_s
            i8x16.sub
            local.set $19
            local.get $17
            i32.const 16
            i32.add
            local.set $17
            br $for-loop|17
           end
          end
          local.get $8
          i32.const 256
          local.get $19
          i16x8.extadd_pairwise_i8x16_u
          i32x4.extadd_pairwise_i16x8_u
          local.tee $19
          i32x4.extract_lane 0
          local.get $19
          i32x4.extract_lane 1
          i32.add
          local.get $19
          i32x4.extract_lane 2
          i32.add
          local.get $19
          i32x4.extract_lane 3
          i32.add
          i32.sub
          i32.sub
          local.set $8
          local.get $7
          i32.const 256
          i32.add
          local.set $7
          br $while-continue|16
         end
        end
        loop $while-continue|18
         local.get $24
         local.get $7
         i32.sub
         i32.const 64
         i32.ge_u
         local.get $8
         i32.const 64
         i32.ge_u
         i32.and
         if
          local.get $7
          v128.load
          local.tee $19
          local.get $7
          v128.load offset=16
          local.tee $25
          v128.or
          local.get $7
          v128.load offset=32
          local.tee $26
          local.get $7
          v128.load offset=48
          local.tee $27
          v128.or
          v128.or
          i8x16.bitmask
          if (result i32)
           local.get $8
           i32.const 64
           local.get $27
           v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
           i8x16.lt_s
           i8x16.bitmask
           i32.popcnt
           local.get $26
           v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
           i8x16.lt_s
           i8x16.bitmask
           i32.popcnt
           local.get $19
           v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
           i8x16.lt_s
           i8x16.bitmask
           i32.popcnt
           local.get $25
           v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
           i8x16.lt_s
           i8x16.bitmask
           i32.popcnt
           i32.add
           i32.add
           i32.add
           i32.sub
           i32.sub
          else
           local.get $8
           i32.const -64
           i32.add
          end
          local.set $8
          local.get $7
          i32.const -64
          i32.sub
          local.set $7
          br $while-continue|18
         end
        end
        loop $while-continue|19
         local.get $24
         local.get $7
         i32.sub
         i32.const 16
         i32.ge_u
         if
          local.get $7
          v128.load
          v128.const i32x4 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0 0xc0c0c0c0
          i8x16.lt_s
          i8x16.bitmask
          i32.const -1
          i32.xor
          i32.const 65535
          i32.and
          local.tee $17
          i32.popcnt
          local.tee $21
          local.get $8
          i32.gt_u
          if
           i32.const 0
           local.set $21
           loop $for-loop|20
            local.get $8
            local.get $21
            i32.gt_u
            if
             local.get $17
             local.get $17
             i32.const 1
             i32.sub
             i32.and
             local.set $17
             local.get $21
             i32.const 1
             i32.add
             local.set $21
             br $for-loop|20
            end
           end
           local.get $7
           local.get $17
           i32.ctz
           i32.add
           local.set $7
           br $assembly/guacamole/skipCounting|inlined.1
          end
          local.get $8
          local.get $21
          i32.sub
          local.set $8
          local.get $7
          i32.const 16
          i32.add
          local.set $7
          br $while-continue|19
         end
        end
       end
       loop $while-continue|21
        local.get $7
        local.get $24
        i32.lt_u
        if
         local.get $7
         i32.load8_u
         i32.const 192
         i32.and
         i32.const 128
         i32.ne
         if
          local.get $8
          i32.eqz
          br_if $assembly/guacamole/skipCounting|inlined.1
          local.get $8
          i32.const 1
          i32.sub
          local.set $8
         end
         local.get $7
         i32.const 1
         i32.add
         local.set $7
         br $while-continue|21
        end
       end
       i32.const -1
       local.set $7
      end
      local.get $7
      i32.const -1
      i32.eq
      if
       i32.const 1
       local.set $23
       local.get $14
       local.get $15
       i32.add
       i32.const 1
       i32.add
       local.tee $8
       local.get $24
       i32.const 1
       i32.add
       local.tee $14
       local.get $8
       local.get $14
       i32.gt_u
       select
       global.set $assembly/guacamole/hint
       br $while-break|12
      end
      local.get $7
      i32.const -2
      i32.eq
      if
       i32.const -2
       local.set $13
       global.get $assembly/guacamole/invalidAt
       global.set $assembly/guacamole/errorAt
       br $while-break|12
      end
      local.get $7
      local.get $24
      i32.ge_u
      if
       i32.const 1
       local.set $23
       local.get $24
       i32.const 1
       i32.add
       global.set $assembly/guacamole/hint
       br $while-break|12
      end
      local.get $7
      i32.load8_u
      local.tee $8
      i32.const 44
      i32.ne
      local.get $8
      i32.const 59
      i32.ne
      i32.and
      if
       i32.const -1
       local.set $13
       local.get $7
       global.set $assembly/guacamole/errorAt
       br $while-break|12
      end
      local.get $16
      i32.const 127
      i32.eq
      local.get $8
      i32.const 44
      i32.eq
      i32.and
      if
       i32.const -4
       local.set $13
       local.get $7
       global.set $assembly/guacamole/errorAt
       br $while-break|12
      end
      local.get $5
      local.get $11
      i32.eq
      if
       i32.const 1
       local.set $13
       br $while-break|12
      end
      local.get $4
      local.get $11
      i32.const 3
      i32.shl
      i32.add
      local.tee $14
      local.get $15
      local.get $0
      i32.sub
      i32.store
      local.get $14
      local.get $7
      local.get $15
      i32.sub
      i32.store offset=4
      local.get $11
      i32.const 1
      i32.add
      local.set $11
      local.get $16
      i32.const 1
      i32.add
      local.set $16
      local.get $7
      i32.const 1
      i32.add
      local.set $7
      local.get $8
      i32.const 59
      i32.ne
      br_if $while-continue|12
     end
    end
    local.get $23
    if
     local.get $12
     local.set $11
     local.get $24
     local.get $10
     i32.sub
     i64.extend_i32_u
     local.get $6
     i64.extend_i32_u
     i64.ge_u
     if
      local.get $10
      global.set $assembly/guacamole/errorAt
      i32.const -5
      local.set $13
     end
     br $while-break|11
    end
    local.get $13
    if
     local.get $12
     local.set $11
     br $while-break|11
    end
    local.get $7
    local.get $10
    i32.sub
    i64.extend_i32_u
    local.get $6
    i64.extend_i32_u
    i64.gt_u
    if (result i32)
     i32.const -5
     local.set $13
     local.get $10
     global.set $assembly/guacamole/errorAt
     local.get $12
    else
     local.get $20
     local.get $10
     local.get $0
     i32.sub
     i32.store
     local.get $20
     local.get $7
     local.get $0
     i32.sub
     i32.store offset=4
     local.get $20
     local.get $12
     i32.store offset=8
     local.get $20
     local.get $16
     i32.store offset=12
     local.get $20
     i32.const 16
     i32.add
     local.set $20
     local.get $22
     i32.const 1
     i32.add
     local.set $22
     local.get $7
     local.set $10
     br $while-continue|11
    end
    local.set $11
   end
  end
  local.get $2
  local.get $22
  i32.store
  local.get $2
  local.get $10
  local.get $0
  i32.sub
  i32.store offset=4
  local.get $2
  local.get $13
  i32.store offset=8
  local.get $2
  local.get $11
  i32.store offset=12
  local.get $2
  global.get $assembly/guacamole/hint
  local.get $0
  i32.sub
  i32.const 0
  global.get $assembly/guacamole/hint
  select
  i32.store offset=16
  local.get $2
  global.get $assembly/guacamole/errorAt
  local.get $0
  i32.sub
  i32.const 0
  local.get $13
  i32.const 0
  i32.lt_s
  select
  i32.store offset=20
  local.get $13
  i32.const 0
  i32.ge_s
  if
   local.get $2
   i32.load offset=4
   local.set $7
   local.get $13
   i32.const 1
   i32.eq
   if
    local.get $0
    local.get $7
    i32.add
    local.set $11
   else
    local.get $0
    local.get $7
    i32.add
    local.set $8
    local.get $0
    local.get $1
    i32.add
    local.tee $11
    local.set $7
    i32.const 0
    local.set $16
    loop $while-continue|01
     local.get $16
     i32.const 3
     i32.lt_s
     local.get $7
     local.get $8
     i32.gt_u
     i32.and
     if
      block $__inlined_func$assembly/guacamole/trailingPartial$5
       local.get $16
       i32.const 1
       i32.add
       local.set $16
       local.get $7
       i32.const 1
       i32.sub
       local.tee $7
       i32.load8_u
       local.tee $12
       i32.const 192
       i32.and
       i32.const 128
       i32.ne
       if
        local.get $7
        local.get $11
        block $assembly/utf8/sequenceAt|inlined.2 (result i32)
         i32.const 1
         local.get $12
         i32.const 128
         i32.lt_u
         br_if $assembly/utf8/sequenceAt|inlined.2
         drop
         i32.const 128
         local.set $8
         i32.const 191
         local.set $14
         i32.const 0
         local.get $12
         i32.const 194
         i32.lt_u
         br_if $assembly/utf8/sequenceAt|inlined.2
         drop
         local.get $12
         i32.const 224
         i32.lt_u
         if
          i32.const 1
          local.set $10
         else
          local.get $12
          i32.const 240
          i32.lt_u
          if
           i32.const 2
           local.set $10
           local.get $12
           i32.const 224
           i32.eq
           if
            i32.const 160
            local.set $8
           else
            i32.const 159
            i32.const 191
            local.get $12
            i32.const 237
            i32.eq
            select
            local.set $14
           end
          else
           local.get $12
           i32.const 245
           i32.lt_u
           if
            i32.const 3
            local.set $10
            local.get $12
            i32.const 240
            i32.eq
            if
             i32.const 144
             local.set $8
            else
             i32.const 143
             i32.const 191
             local.get $12
             i32.const 244
             i32.eq
             select
             local.set $14
            end
           else
            i32.const 0
            br $assembly/utf8/sequenceAt|inlined.2
           end
          end
         end
         i32.const -1
         local.get $7
         i32.const 1
         i32.add
         local.get $11
         i32.ge_u
         br_if $assembly/utf8/sequenceAt|inlined.2
         drop
         i32.const 0
         local.get $7
         i32.load8_u offset=1
         local.tee $12
         local.get $14
         i32.gt_u
         local.get $8
         local.get $12
         i32.gt_u
         i32.or
         br_if $assembly/utf8/sequenceAt|inlined.2
         drop
         i32.const 2
         local.set $16
         loop $for-loop|1
          local.get $10
          local.get $16
          i32.ge_u
          if
           i32.const -1
           local.get $7
           local.get $16
           i32.add
           local.tee $8
           local.get $11
           i32.ge_u
           br_if $assembly/utf8/sequenceAt|inlined.2
           drop
           i32.const 0
           local.get $8
           i32.load8_u
           i32.const 192
           i32.and
           i32.const 128
           i32.ne
           br_if $assembly/utf8/sequenceAt|inlined.2
           drop
           local.get $16
           i32.const 1
           i32.add
           local.set $16
           br $for-loop|1
          end
         end
         local.get $10
         i32.const 1
         i32.add
        end
        i32.const 0
        i32.lt_s
        select
        local.set $11
        br $__inlined_func$assembly/guacamole/trailingPartial$5
       end
       br $while-continue|01
      end
     end
    end
   end
   local.get $0
   local.get $11
   local.get $0
   i32.sub
   local.get $0
   i32.add
   call $assembly/utf8/validateSimd
   if
    local.get $13
    return
   end
  end
  local.get $3
  local.set $7
  local.get $5
  local.set $8
  local.get $6
  local.set $10
  local.get $0
  local.tee $11
  local.get $1
  i32.add
  local.set $15
  local.get $0
  local.set $3
  i32.const 0
  local.set $1
  local.get $2
  local.tee $12
  i32.const 32
  i32.add
  local.set $21
  i32.const 0
  global.set $assembly/guacamole/hint
  i32.const 0
  global.set $assembly/guacamole/errorAt
  loop $while-continue|22
   block $while-break|22
    local.get $7
    local.get $18
    i32.eq
    if
     i32.const 1
     local.set $9
     br $while-break|22
    end
    local.get $3
    local.set $0
    i32.const 0
    local.set $22
    local.get $1
    local.set $2
    i32.const 0
    local.set $20
    loop $while-continue|23
     block $while-break|23
      i32.const 0
      local.set $5
      i32.const 0
      local.set $16
      local.get $0
      local.set $6
      loop $while-continue|24
       block $while-break|24
        local.get $0
        local.get $15
        i32.ge_u
        if
         i32.const 1
         local.set $20
         local.get $15
         i32.const 1
         i32.add
         global.set $assembly/guacamole/hint
         br $while-break|24
        end
        local.get $0
        i32.load8_u
        i32.const 48
        i32.sub
        local.tee $13
        i32.const 10
        i32.lt_u
        if (result i32)
         local.get $16
         i32.const 7
         i32.eq
         if
          i32.const -3
          local.set $9
          local.get $0
          global.set $assembly/guacamole/errorAt
          br $while-break|24
         end
         local.get $5
         i32.const 10
         i32.mul
         local.get $13
         i32.add
         local.set $5
         local.get $16
         i32.const 1
         i32.add
         local.set $16
         local.get $0
         i32.const 1
         i32.add
        else
         local.get $13
         i32.const -2
         i32.eq
         local.get $16
         i32.const 0
         i32.ne
         i32.and
         if
          local.get $0
          i32.const 1
          i32.add
          local.set $0
         else
          i32.const -1
          local.set $9
          local.get $0
          global.set $assembly/guacamole/errorAt
         end
         br $while-break|24
        end
        local.set $0
        br $while-continue|24
       end
      end
      local.get $9
      local.get $20
      i32.or
      br_if $while-break|23
      local.get $5
      i32.const 8388608
      i32.gt_u
      if
       i32.const -3
       local.set $9
       local.get $6
       global.set $assembly/guacamole/errorAt
       br $while-break|23
      end
      local.get $10
      i64.extend_i32_u
      local.get $0
      local.get $3
      i32.sub
      i64.extend_i32_u
      local.get $5
      i64.extend_i32_u
      i64.add
      i64.const 1
      i64.add
      i64.lt_u
      if
       i32.const -5
       local.set $9
       local.get $3
       global.set $assembly/guacamole/errorAt
       br $while-break|23
      end
      local.get $0
      local.set $14
      local.get $5
      local.set $6
      block $assembly/guacamole/skipValidating|inlined.2 (result i32)
       loop $while-continue|25
        local.get $6
        if
         i32.const -1
         local.get $0
         local.get $15
         i32.ge_u
         br_if $assembly/guacamole/skipValidating|inlined.2
         drop
         block $assembly/utf8/sequenceAt|inlined.3 (result i32)
          i32.const 1
          local.get $0
          i32.load8_u
          local.tee $17
          i32.const 128
          i32.lt_u
          br_if $assembly/utf8/sequenceAt|inlined.3
          drop
          i32.const 128
          local.set $16
          i32.const 191
          local.set $13
          i32.const 0
          local.get $17
          i32.const 194
          i32.lt_u
          br_if $assembly/utf8/sequenceAt|inlined.3
          drop
          local.get $17
          i32.const 224
          i32.lt_u
          if
           i32.const 1
           local.set $23
          else
           local.get $17
           i32.const 240
           i32.lt_u
           if
            i32.const 2
            local.set $23
            local.get $17
            i32.const 224
            i32.eq
            if
             i32.const 160
             local.set $16
            else
             i32.const 159
             i32.const 191
             local.get $17
             i32.const 237
             i32.eq
             select
             local.set $13
            end
           else
            local.get $17
            i32.const 245
            i32.lt_u
            if
             i32.const 3
             local.set $23
             local.get $17
             i32.const 240
             i32.eq
             if
              i32.const 144
              local.set $16
             else
              i32.const 143
              i32.const 191
              local.get $17
              i32.const 244
              i32.eq
              select
              local.set $13
             end
            else
             i32.const 0
             br $assembly/utf8/sequenceAt|inlined.3
            end
           end
          end
          i32.const -1
          local.get $0
          i32.const 1
          i32.add
          local.get $15
          i32.ge_u
          br_if $assembly/utf8/sequenceAt|inlined.3
          drop
          i32.const 0
          local.get $0
          i32.load8_u offset=1
          local.tee $17
          local.get $13
          i32.gt_u
          local.get $16
          local.get $17
          i32.gt_u
          i32.or
          br_if $assembly/utf8/sequenceAt|inlined.3
          drop
          i32.const 2
          local.set $13
          loop $for-loop|26
           local.get $13
           local.get $23
           i32.le_u
           if
            i32.const -1
            local.get $0
            local.get $13
            i32.add
            local.tee $16
            local.get $15
            i32.ge_u
            br_if $assembly/utf8/sequenceAt|inlined.3
            drop
            i32.const 0
            local.get $16
            i32.load8_u
            i32.const 192
            i32.and
            i32.const 128
            i32.ne
            br_if $assembly/utf8/sequenceAt|inlined.3
            drop
            local.get $13
            i32.const 1
            i32.add
            local.set $13
            br $for-loop|26
           end
          end
          local.get $23
          i32.const 1
          i32.add
         end
         local.tee $13
         i32.const 0
         i32.le_s
         if
          i32.const -1
          local.get $13
          i32.const 0
          i32.lt_s
          br_if $assembly/guacamole/skipValidating|inlined.2
          drop
          local.get $0
          global.set $assembly/guacamole/invalidAt
          i32.const -2
          br $assembly/guacamole/skipValidating|inlined.2
         end
         local.get $0
         local.get $13
         i32.add
         local.set $0
         local.get $6
         i32.const 1
         i32.sub
         local.set $6
         br $while-continue|25
        end
       end
       local.get $0
      end
      local.tee $0
      i32.const -1
      i32.eq
      if
       i32.const 1
       local.set $20
       local.get $5
       local.get $14
       i32.add
       i32.const 1
       i32.add
       local.tee $5
       local.get $15
       i32.const 1
       i32.add
       local.tee $6
       local.get $5
       local.get $6
       i32.gt_u
       select
       global.set $assembly/guacamole/hint
       br $while-break|23
      end
      local.get $0
      i32.const -2
      i32.eq
      if
       i32.const -2
       local.set $9
       global.get $assembly/guacamole/invalidAt
       global.set $assembly/guacamole/errorAt
       br $while-break|23
      end
      local.get $0
      local.get $15
      i32.ge_u
      if
       i32.const 1
       local.set $20
       local.get $15
       i32.const 1
       i32.add
       global.set $assembly/guacamole/hint
       br $while-break|23
      end
      local.get $0
      i32.load8_u
      local.tee $5
      i32.const 44
      i32.ne
      local.get $5
      i32.const 59
      i32.ne
      i32.and
      if
       i32.const -1
       local.set $9
       local.get $0
       global.set $assembly/guacamole/errorAt
       br $while-break|23
      end
      local.get $22
      i32.const 127
      i32.eq
      local.get $5
      i32.const 44
      i32.eq
      i32.and
      if
       i32.const -4
       local.set $9
       local.get $0
       global.set $assembly/guacamole/errorAt
       br $while-break|23
      end
      local.get $1
      local.get $8
      i32.eq
      if
       i32.const 1
       local.set $9
       br $while-break|23
      end
      local.get $4
      local.get $1
      i32.const 3
      i32.shl
      i32.add
      local.tee $6
      local.get $14
      local.get $11
      i32.sub
      i32.store
      local.get $6
      local.get $0
      local.get $14
      i32.sub
      i32.store offset=4
      local.get $1
      i32.const 1
      i32.add
      local.set $1
      local.get $22
      i32.const 1
      i32.add
      local.set $22
      local.get $0
      i32.const 1
      i32.add
      local.set $0
      local.get $5
      i32.const 59
      i32.ne
      br_if $while-continue|23
     end
    end
    local.get $20
    if
     local.get $2
     local.set $1
     local.get $15
     local.get $3
     i32.sub
     i64.extend_i32_u
     local.get $10
     i64.extend_i32_u
     i64.ge_u
     if
      local.get $3
      global.set $assembly/guacamole/errorAt
      i32.const -5
      local.set $9
     end
     br $while-break|22
    end
    local.get $9
    if
     local.get $2
     local.set $1
     br $while-break|22
    end
    local.get $0
    local.get $3
    i32.sub
    i64.extend_i32_u
    local.get $10
    i64.extend_i32_u
    i64.gt_u
    if (result i32)
     i32.const -5
     local.set $9
     local.get $3
     global.set $assembly/guacamole/errorAt
     local.get $2
    else
     local.get $21
     local.get $3
     local.get $11
     i32.sub
     i32.store
     local.get $21
     local.get $0
     local.get $11
     i32.sub
     i32.store offset=4
     local.get $21
     local.get $2
     i32.store offset=8
     local.get $21
     local.get $22
     i32.store offset=12
     local.get $21
     i32.const 16
     i32.add
     local.set $21
     local.get $18
     i32.const 1
     i32.add
     local.set $18
     local.get $0
     local.set $3
     br $while-continue|22
    end
    local.set $1
   end
  end
  local.get $12
  local.get $18
  i32.store
  local.get $12
  local.get $3
  local.get $11
  i32.sub
  i32.store offset=4
  local.get $12
  local.get $9
  i32.store offset=8
  local.get $12
  local.get $1
  i32.store offset=12
  local.get $12
  global.get $assembly/guacamole/hint
  local.get $11
  i32.sub
  i32.const 0
  global.get $assembly/guacamole/hint
  select
  i32.store offset=16
  local.get $12
  global.get $assembly/guacamole/errorAt
  local.get $11
  i32.sub
  i32.const 0
  local.get $9
  i32.const 0
  i32.lt_s
  select
  i32.store offset=20
  local.get $9
 )
 (func $assembly/frames/walkFrames (param $0 i32) (param $1 i32) (param $2 i32) (param $3 i32) (param $4 i32) (result i32)
  (local $5 i32)
  (local $6 i32)
  (local $7 i32)
  (local $8 i32)
  (local $9 i32)
  (local $10 i32)
  (local $11 i32)
  (local $12 i32)
  local.get $0
  local.get $1
  i32.add
  local.set $8
  local.get $0
  local.set $1
  local.get $3
  i32.const 32
  i32.add
  local.set $5
  loop $while-continue|0
   local.get $8
   local.get $1
   i32.sub
   i32.const 16
   i32.ge_u
   if
    block $while-break|0
     local.get $1
     i32.load offset=12
     local.tee $9
     i32.const -16711936
     i32.and
     i32.const 8
     i32.rotl
     local.get $9
     i32.const 16711935
     i32.and
     i32.const 8
     i32.rotr
     i32.or
     local.tee $9
     local.get $2
     i32.gt_u
     if
      i32.const -2
      local.set $6
      local.get $3
      local.get $1
      local.get $0
      i32.sub
      i32.store offset=12
      local.get $3
      local.get $9
      i32.store offset=16
      br $while-break|0
     end
     local.get $8
     local.get $1
     i32.const 16
     i32.add
     local.get $9
     i32.add
     local.tee $11
     i32.le_u
     br_if $while-break|0
     local.get $1
     i32.load
     local.tee $10
     i32.const -16711936
     i32.and
     i32.const 8
     i32.rotl
     local.get $10
     i32.const 16711935
     i32.and
     i32.const 8
     i32.rotr
     i32.or
     local.set $10
     local.get $11
     i32.load8_u
     local.tee $12
     i32.const 59
     i32.ne
     if
      i32.const -1
      local.set $6
      local.get $3
      local.get $11
      local.get $0
      i32.sub
      i32.store offset=12
      local.get $3
      local.get $9
      i32.store offset=16
      local.get $3
      local.get $10
      i32.store offset=20
      local.get $3
      local.get $12
      i32.store offset=24
      br $while-break|0
     end
     local.get $4
     local.get $7
     i32.eq
     if
      i32.const 1
      local.set $6
      br $while-break|0
     end
     local.get $5
     local.get $10
     i32.store
     local.get $5
     local.get $1
     i32.const 16
     i32.add
     local.get $0
     i32.sub
     i32.store offset=4
     local.get $5
     local.get $9
     i32.store offset=8
     local.get $5
     i32.const 12
     i32.add
     local.set $5
     local.get $7
     i32.const 1
     i32.add
     local.set $7
     local.get $11
     i32.const 1
     i32.add
     local.set $1
     br $while-continue|0
    end
   end
  end
  local.get $3
  local.get $7
  i32.store
  local.get $3
  local.get $1
  local.get $0
  i32.sub
  i32.store offset=4
  local.get $3
  local.get $6
  i32.store offset=8
  local.get $6
 )
 (func $assembly/frames/encodeFrame (param $0 i32) (param $1 i32) (param $2 f64) (param $3 i32) (param $4 i32) (result i32)
  (local $5 i64)
  local.get $0
  local.get $1
  i32.const -16711936
  i32.and
  i32.const 8
  i32.rotl
  local.get $1
  i32.const 16711935
  i32.and
  i32.const 8
  i32.rotr
  i32.or
  i32.store
  local.get $0
  local.get $2
  i64.trunc_sat_f64_u
  local.tee $5
  i64.const 8
  i64.shr_u
  i64.const 71777214294589695
  i64.and
  local.get $5
  i64.const 71777214294589695
  i64.and
  i64.const 8
  i64.shl
  i64.or
  local.tee $5
  i64.const 16
  i64.shr_u
  i64.const 281470681808895
  i64.and
  local.get $5
  i64.const 281470681808895
  i64.and
  i64.const 16
  i64.shl
  i64.or
  i64.const 32
  i64.rotr
  i64.store offset=4
  local.get $0
  local.get $4
  i32.const -16711936
  i32.and
  i32.const 8
  i32.rotl
  local.get $4
  i32.const 16711935
  i32.and
  i32.const 8
  i32.rotr
  i32.or
  i32.store offset=12
  local.get $0
  i32.const 16
  i32.add
  local.tee $0
  local.get $3
  local.get $4
  memory.copy
  local.get $0
  local.get $4
  i32.add
  i32.const 59
  i32.store8
  local.get $4
  i32.const 17
  i32.add
 )
)
