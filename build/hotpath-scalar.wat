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
 (func $assembly/utf8/validateUtf8 (param $0 i32) (param $1 i32) (result i32)
  (local $2 i32)
  (local $3 i32)
  (local $4 i32)
  (local $5 i32)
  local.get $0
  local.get $1
  i32.add
  local.set $4
  block $__inlined_func$assembly/utf8/validateScalar$5 (result i32)
   loop $while-continue|0
    local.get $0
    local.get $4
    i32.lt_u
    if
     i32.const 0
     block $assembly/utf8/sequenceAt|inlined.2 (result i32)
      i32.const 1
      local.get $0
      i32.load8_u
      local.tee $5
      i32.const 128
      i32.lt_u
      br_if $assembly/utf8/sequenceAt|inlined.2
      drop
      i32.const 128
      local.set $1
      i32.const 191
      local.set $2
      i32.const 0
      local.get $5
      i32.const 194
      i32.lt_u
      br_if $assembly/utf8/sequenceAt|inlined.2
      drop
      local.get $5
      i32.const 224
      i32.lt_u
      if
       i32.const 1
       local.set $3
      else
       local.get $5
       i32.const 240
       i32.lt_u
       if
        i32.const 2
        local.set $3
        local.get $5
        i32.const 224
        i32.eq
        if
         i32.const 160
         local.set $1
        else
         i32.const 159
         i32.const 191
         local.get $5
         i32.const 237
         i32.eq
         select
         local.set $2
        end
       else
        local.get $5
        i32.const 245
        i32.lt_u
        if
         i32.const 3
         local.set $3
         local.get $5
         i32.const 240
         i32.eq
         if
          i32.const 144
          local.set $1
         else
          i32.const 143
          i32.const 191
          local.get $5
          i32.const 244
          i32.eq
          select
          local.set $2
         end
        else
         i32.const 0
         br $assembly/utf8/sequenceAt|inlined.2
        end
       end
      end
      i32.const -1
      local.get $0
      i32.const 1
      i32.add
      local.get $4
      i32.ge_u
      br_if $assembly/utf8/sequenceAt|inlined.2
      drop
      i32.const 0
      local.get $0
      i32.load8_u offset=1
      local.tee $5
      local.get $2
      i32.gt_u
      local.get $1
      local.get $5
      i32.gt_u
      i32.or
      br_if $assembly/utf8/sequenceAt|inlined.2
      drop
      i32.const 2
      local.set $1
      loop $for-loop|1
       local.get $1
       local.get $3
       i32.le_u
       if
        i32.const -1
        local.get $0
        local.get $1
        i32.add
        local.tee $2
        local.get $4
        i32.ge_u
        br_if $assembly/utf8/sequenceAt|inlined.2
        drop
        i32.const 0
        local.get $2
        i32.load8_u
        i32.const 192
        i32.and
        i32.const 128
        i32.ne
        br_if $assembly/utf8/sequenceAt|inlined.2
        drop
        local.get $1
        i32.const 1
        i32.add
        local.set $1
        br $for-loop|1
       end
      end
      local.get $3
      i32.const 1
      i32.add
     end
     local.tee $1
     i32.const 0
     i32.le_s
     br_if $__inlined_func$assembly/utf8/validateScalar$5
     drop
     local.get $0
     local.get $1
     i32.add
     local.set $0
     br $while-continue|0
    end
   end
   i32.const 1
  end
 )
 (func $assembly/utf8/countCodePoints (param $0 i32) (param $1 i32) (result i32)
  (local $2 i32)
  (local $3 i32)
  local.get $0
  local.get $1
  i32.add
  local.set $3
  loop $while-continue|0
   local.get $0
   local.get $3
   i32.lt_u
   if
    local.get $2
    local.get $0
    i32.load8_u
    i32.const 192
    i32.and
    i32.const 128
    i32.eq
    i32.add
    local.set $2
    local.get $0
    i32.const 1
    i32.add
    local.set $0
    br $while-continue|0
   end
  end
  local.get $1
  local.get $2
  i32.sub
 )
 (func $assembly/index/simd (result i32)
  i32.const 0
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
  (local $19 i32)
  (local $20 i32)
  (local $21 i32)
  (local $22 i32)
  local.get $7
  i32.eqz
  if
   local.get $3
   local.set $7
   local.get $5
   local.set $9
   local.get $6
   local.set $10
   local.get $0
   local.tee $11
   local.get $1
   i32.add
   local.set $14
   local.get $0
   local.set $3
   i32.const 0
   local.set $1
   local.get $2
   local.tee $12
   i32.const 32
   i32.add
   local.set $15
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
      local.set $8
      br $while-break|0
     end
     local.get $3
     local.set $0
     i32.const 0
     local.set $17
     local.get $1
     local.set $2
     i32.const 0
     local.set $16
     loop $while-continue|1
      block $while-break|1
       i32.const 0
       local.set $6
       i32.const 0
       local.set $5
       local.get $0
       local.set $13
       loop $while-continue|2
        block $while-break|2
         local.get $0
         local.get $14
         i32.ge_u
         if
          i32.const 1
          local.set $16
          local.get $14
          i32.const 1
          i32.add
          global.set $assembly/guacamole/hint
          br $while-break|2
         end
         local.get $0
         i32.load8_u
         i32.const 48
         i32.sub
         local.tee $19
         i32.const 10
         i32.lt_u
         if (result i32)
          local.get $5
          i32.const 7
          i32.eq
          if
           i32.const -3
           local.set $8
           local.get $0
           global.set $assembly/guacamole/errorAt
           br $while-break|2
          end
          local.get $6
          i32.const 10
          i32.mul
          local.get $19
          i32.add
          local.set $6
          local.get $5
          i32.const 1
          i32.add
          local.set $5
          local.get $0
          i32.const 1
          i32.add
         else
          local.get $19
          i32.const -2
          i32.eq
          local.get $5
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
           local.set $8
           local.get $0
           global.set $assembly/guacamole/errorAt
          end
          br $while-break|2
         end
         local.set $0
         br $while-continue|2
        end
       end
       local.get $8
       local.get $16
       i32.or
       br_if $while-break|1
       local.get $6
       i32.const 8388608
       i32.gt_u
       if
        i32.const -3
        local.set $8
        local.get $13
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $10
       i64.extend_i32_u
       local.get $0
       local.get $3
       i32.sub
       i64.extend_i32_u
       local.get $6
       i64.extend_i32_u
       i64.add
       i64.const 1
       i64.add
       i64.lt_u
       if
        i32.const -5
        local.set $8
        local.get $3
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $0
       local.set $13
       local.get $6
       local.set $5
       block $assembly/guacamole/skipCounting|inlined.0
        loop $while-continue|5
         local.get $0
         local.get $14
         i32.lt_u
         if
          local.get $0
          i32.load8_u
          i32.const 192
          i32.and
          i32.const 128
          i32.ne
          if
           local.get $5
           i32.eqz
           br_if $assembly/guacamole/skipCounting|inlined.0
           local.get $5
           i32.const 1
           i32.sub
           local.set $5
          end
          local.get $0
          i32.const 1
          i32.add
          local.set $0
          br $while-continue|5
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
        local.set $16
        local.get $6
        local.get $13
        i32.add
        i32.const 1
        i32.add
        local.tee $5
        local.get $14
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
        local.set $8
        global.get $assembly/guacamole/invalidAt
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $0
       local.get $14
       i32.ge_u
       if
        i32.const 1
        local.set $16
        local.get $14
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
        local.set $8
        local.get $0
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $17
       i32.const 127
       i32.eq
       local.get $5
       i32.const 44
       i32.eq
       i32.and
       if
        i32.const -4
        local.set $8
        local.get $0
        global.set $assembly/guacamole/errorAt
        br $while-break|1
       end
       local.get $1
       local.get $9
       i32.eq
       if
        i32.const 1
        local.set $8
        br $while-break|1
       end
       local.get $4
       local.get $1
       i32.const 3
       i32.shl
       i32.add
       local.tee $6
       local.get $13
       local.get $11
       i32.sub
       i32.store
       local.get $6
       local.get $0
       local.get $13
       i32.sub
       i32.store offset=4
       local.get $1
       i32.const 1
       i32.add
       local.set $1
       local.get $17
       i32.const 1
       i32.add
       local.set $17
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
     local.get $16
     if
      local.get $2
      local.set $1
      local.get $14
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
       local.set $8
      end
      br $while-break|0
     end
     local.get $8
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
      local.set $8
      local.get $3
      global.set $assembly/guacamole/errorAt
      local.get $2
     else
      local.get $15
      local.get $3
      local.get $11
      i32.sub
      i32.store
      local.get $15
      local.get $0
      local.get $11
      i32.sub
      i32.store offset=4
      local.get $15
      local.get $2
      i32.store offset=8
      local.get $15
      local.get $17
      i32.store offset=12
      local.get $15
      i32.const 16
      i32.add
      local.set $15
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
   local.get $8
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
   local.get $8
   i32.const 0
   i32.lt_s
   select
   i32.store offset=20
   local.get $8
   return
  end
  local.get $3
  local.set $7
  local.get $5
  local.set $9
  local.get $6
  local.set $10
  local.get $0
  local.tee $11
  local.get $1
  i32.add
  local.set $21
  local.get $0
  local.set $3
  i32.const 0
  local.set $1
  local.get $2
  local.tee $12
  i32.const 32
  i32.add
  local.set $15
  i32.const 0
  global.set $assembly/guacamole/hint
  i32.const 0
  global.set $assembly/guacamole/errorAt
  loop $while-continue|6
   block $while-break|6
    local.get $7
    local.get $18
    i32.eq
    if
     i32.const 1
     local.set $8
     br $while-break|6
    end
    local.get $3
    local.set $0
    i32.const 0
    local.set $17
    local.get $1
    local.set $2
    i32.const 0
    local.set $16
    loop $while-continue|7
     block $while-break|7
      i32.const 0
      local.set $6
      i32.const 0
      local.set $5
      local.get $0
      local.set $13
      loop $while-continue|8
       block $while-break|8
        local.get $0
        local.get $21
        i32.ge_u
        if
         i32.const 1
         local.set $16
         local.get $21
         i32.const 1
         i32.add
         global.set $assembly/guacamole/hint
         br $while-break|8
        end
        local.get $0
        i32.load8_u
        i32.const 48
        i32.sub
        local.tee $14
        i32.const 10
        i32.lt_u
        if (result i32)
         local.get $5
         i32.const 7
         i32.eq
         if
          i32.const -3
          local.set $8
          local.get $0
          global.set $assembly/guacamole/errorAt
          br $while-break|8
         end
         local.get $6
         i32.const 10
         i32.mul
         local.get $14
         i32.add
         local.set $6
         local.get $5
         i32.const 1
         i32.add
         local.set $5
         local.get $0
         i32.const 1
         i32.add
        else
         local.get $14
         i32.const -2
         i32.eq
         local.get $5
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
          local.set $8
          local.get $0
          global.set $assembly/guacamole/errorAt
         end
         br $while-break|8
        end
        local.set $0
        br $while-continue|8
       end
      end
      local.get $8
      local.get $16
      i32.or
      br_if $while-break|7
      local.get $6
      i32.const 8388608
      i32.gt_u
      if
       i32.const -3
       local.set $8
       local.get $13
       global.set $assembly/guacamole/errorAt
       br $while-break|7
      end
      local.get $10
      i64.extend_i32_u
      local.get $0
      local.get $3
      i32.sub
      i64.extend_i32_u
      local.get $6
      i64.extend_i32_u
      i64.add
      i64.const 1
      i64.add
      i64.lt_u
      if
       i32.const -5
       local.set $8
       local.get $3
       global.set $assembly/guacamole/errorAt
       br $while-break|7
      end
      local.get $0
      local.set $13
      local.get $6
      local.set $5
      block $assembly/guacamole/skipValidating|inlined.1 (result i32)
       loop $while-continue|9
        local.get $5
        if
         i32.const -1
         local.get $0
         local.get $21
         i32.ge_u
         br_if $assembly/guacamole/skipValidating|inlined.1
         drop
         block $assembly/utf8/sequenceAt|inlined.1 (result i32)
          i32.const 1
          local.get $0
          i32.load8_u
          local.tee $22
          i32.const 128
          i32.lt_u
          br_if $assembly/utf8/sequenceAt|inlined.1
          drop
          i32.const 128
          local.set $20
          i32.const 191
          local.set $14
          i32.const 0
          local.get $22
          i32.const 194
          i32.lt_u
          br_if $assembly/utf8/sequenceAt|inlined.1
          drop
          local.get $22
          i32.const 224
          i32.lt_u
          if
           i32.const 1
           local.set $19
          else
           local.get $22
           i32.const 240
           i32.lt_u
           if
            i32.const 2
            local.set $19
            local.get $22
            i32.const 224
            i32.eq
            if
             i32.const 160
             local.set $20
            else
             i32.const 159
             i32.const 191
             local.get $22
             i32.const 237
             i32.eq
             select
             local.set $14
            end
           else
            local.get $22
            i32.const 245
            i32.lt_u
            if
             i32.const 3
             local.set $19
             local.get $22
             i32.const 240
             i32.eq
             if
              i32.const 144
              local.set $20
             else
              i32.const 143
              i32.const 191
              local.get $22
              i32.const 244
              i32.eq
              select
              local.set $14
             end
            else
             i32.const 0
             br $assembly/utf8/sequenceAt|inlined.1
            end
           end
          end
          i32.const -1
          local.get $0
          i32.const 1
          i32.add
          local.get $21
          i32.ge_u
          br_if $assembly/utf8/sequenceAt|inlined.1
          drop
          i32.const 0
          local.get $0
          i32.load8_u offset=1
          local.tee $22
          local.get $14
          i32.gt_u
          local.get $20
          local.get $22
          i32.gt_u
          i32.or
          br_if $assembly/utf8/sequenceAt|inlined.1
          drop
          i32.const 2
          local.set $14
          loop $for-loop|10
           local.get $14
           local.get $19
           i32.le_u
           if
            i32.const -1
            local.get $0
            local.get $14
            i32.add
            local.tee $20
            local.get $21
            i32.ge_u
            br_if $assembly/utf8/sequenceAt|inlined.1
            drop
            i32.const 0
            local.get $20
            i32.load8_u
            i32.const 192
            i32.and
            i32.const 128
            i32.ne
            br_if $assembly/utf8/sequenceAt|inlined.1
            drop
            local.get $14
            i32.const 1
            i32.add
            local.set $14
            br $for-loop|10
           end
          end
          local.get $19
          i32.const 1
          i32.add
         end
         local.tee $14
         i32.const 0
         i32.le_s
         if
          i32.const -1
          local.get $14
          i32.const 0
          i32.lt_s
          br_if $assembly/guacamole/skipValidating|inlined.1
          drop
          local.get $0
          global.set $assembly/guacamole/invalidAt
          i32.const -2
          br $assembly/guacamole/skipValidating|inlined.1
         end
         local.get $0
         local.get $14
         i32.add
         local.set $0
         local.get $5
         i32.const 1
         i32.sub
         local.set $5
         br $while-continue|9
        end
       end
       local.get $0
      end
      local.tee $0
      i32.const -1
      i32.eq
      if
       i32.const 1
       local.set $16
       local.get $6
       local.get $13
       i32.add
       i32.const 1
       i32.add
       local.tee $5
       local.get $21
       i32.const 1
       i32.add
       local.tee $6
       local.get $5
       local.get $6
       i32.gt_u
       select
       global.set $assembly/guacamole/hint
       br $while-break|7
      end
      local.get $0
      i32.const -2
      i32.eq
      if
       i32.const -2
       local.set $8
       global.get $assembly/guacamole/invalidAt
       global.set $assembly/guacamole/errorAt
       br $while-break|7
      end
      local.get $0
      local.get $21
      i32.ge_u
      if
       i32.const 1
       local.set $16
       local.get $21
       i32.const 1
       i32.add
       global.set $assembly/guacamole/hint
       br $while-break|7
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
       local.set $8
       local.get $0
       global.set $assembly/guacamole/errorAt
       br $while-break|7
      end
      local.get $17
      i32.const 127
      i32.eq
      local.get $5
      i32.const 44
      i32.eq
      i32.and
      if
       i32.const -4
       local.set $8
       local.get $0
       global.set $assembly/guacamole/errorAt
       br $while-break|7
      end
      local.get $1
      local.get $9
      i32.eq
      if
       i32.const 1
       local.set $8
       br $while-break|7
      end
      local.get $4
      local.get $1
      i32.const 3
      i32.shl
      i32.add
      local.tee $6
      local.get $13
      local.get $11
      i32.sub
      i32.store
      local.get $6
      local.get $0
      local.get $13
      i32.sub
      i32.store offset=4
      local.get $1
      i32.const 1
      i32.add
      local.set $1
      local.get $17
      i32.const 1
      i32.add
      local.set $17
      local.get $0
      i32.const 1
      i32.add
      local.set $0
      local.get $5
      i32.const 59
      i32.ne
      br_if $while-continue|7
     end
    end
    local.get $16
    if
     local.get $2
     local.set $1
     local.get $21
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
      local.set $8
     end
     br $while-break|6
    end
    local.get $8
    if
     local.get $2
     local.set $1
     br $while-break|6
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
     local.set $8
     local.get $3
     global.set $assembly/guacamole/errorAt
     local.get $2
    else
     local.get $15
     local.get $3
     local.get $11
     i32.sub
     i32.store
     local.get $15
     local.get $0
     local.get $11
     i32.sub
     i32.store offset=4
     local.get $15
     local.get $2
     i32.store offset=8
     local.get $15
     local.get $17
     i32.store offset=12
     local.get $15
     i32.const 16
     i32.add
     local.set $15
     local.get $18
     i32.const 1
     i32.add
     local.set $18
     local.get $0
     local.set $3
     br $while-continue|6
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
  local.get $8
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
  local.get $8
  i32.const 0
  i32.lt_s
  select
  i32.store offset=20
  local.get $8
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
