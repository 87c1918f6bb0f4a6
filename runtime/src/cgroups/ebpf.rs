//! A small eBPF instruction encoder: the handful of opcodes the cgroup
//! device program needs (32-bit loads from the context, 32-bit ALU with
//! an immediate or a register, conditional jumps to labels, exit). Pure:
//! loading the result is bpf(2)'s job.

/// One `struct bpf_insn`, as the kernel reads it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// `dst_reg:4, src_reg:4` (bitfields: the first is the low nibble on a
    /// little-endian machine).
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reg {
    R0 = 0,
    R1,
    R2,
    R3,
    R4,
    R5,
}

// Instruction classes, sizes, modes and operations of the eBPF ISA.
const CLASS_LDX: u8 = 0x01;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU: u8 = 0x04;
const CLASS_ALU64: u8 = 0x07;
const SIZE_W: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
const SOURCE_K: u8 = 0x00;
const SOURCE_X: u8 = 0x08;
const ALU_AND: u8 = 0x50;
const ALU_RSH: u8 = 0x70;
const ALU_MOV: u8 = 0xb0;
const JMP_JEQ: u8 = 0x10;
const JMP_JNE: u8 = 0x50;
const JMP_EXIT: u8 = 0x90;

pub const LDX_W: u8 = CLASS_LDX | SIZE_W | MODE_MEM;
pub const AND32_K: u8 = CLASS_ALU | ALU_AND | SOURCE_K;
pub const RSH32_K: u8 = CLASS_ALU | ALU_RSH | SOURCE_K;
pub const MOV32_X: u8 = CLASS_ALU | ALU_MOV | SOURCE_X;
pub const MOV64_K: u8 = CLASS_ALU64 | ALU_MOV | SOURCE_K;
pub const JEQ_K: u8 = CLASS_JMP | JMP_JEQ | SOURCE_K;
pub const JNE_K: u8 = CLASS_JMP | JMP_JNE | SOURCE_K;
pub const JNE_X: u8 = CLASS_JMP | JMP_JNE | SOURCE_X;
pub const EXIT: u8 = CLASS_JMP | JMP_EXIT;

fn regs(dst: Reg, src: Reg) -> u8 {
    let (dst, src) = (dst as u8, src as u8);
    if cfg!(target_endian = "little") { dst | src << 4 } else { dst << 4 | src }
}

fn insn(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
    Insn { code, regs: regs(dst, src), off, imm }
}

/// A place in the program that forward jumps name before it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// Instructions in order; jumps carry their label until [`Self::finish`].
#[derive(Default)]
pub struct Encoder {
    insns: Vec<Insn>,
    /// (index of a jump, its label).
    jumps: Vec<(usize, Label)>,
    /// Where each label was placed.
    places: Vec<Option<usize>>,
}

impl Encoder {
    pub fn label(&mut self) -> Label {
        self.places.push(None);
        Label(self.places.len() - 1)
    }

    /// The next instruction is `label`'s.
    pub fn place(&mut self, label: Label) {
        self.places[label.0] = Some(self.insns.len());
    }

    /// `dst = *(u32 *)(src + off)`.
    pub fn load_u32(&mut self, dst: Reg, src: Reg, off: i16) {
        self.insns.push(insn(LDX_W, dst, src, off, 0));
    }

    /// `dst = (u32)dst & imm`.
    pub fn and32(&mut self, dst: Reg, imm: i32) {
        self.insns.push(insn(AND32_K, dst, Reg::R0, 0, imm));
    }

    /// `dst = (u32)dst >> imm`.
    pub fn rsh32(&mut self, dst: Reg, imm: i32) {
        self.insns.push(insn(RSH32_K, dst, Reg::R0, 0, imm));
    }

    /// `dst = (u32)src`.
    pub fn mov32_reg(&mut self, dst: Reg, src: Reg) {
        self.insns.push(insn(MOV32_X, dst, src, 0, 0));
    }

    /// `dst = imm`.
    pub fn mov64(&mut self, dst: Reg, imm: i32) {
        self.insns.push(insn(MOV64_K, dst, Reg::R0, 0, imm));
    }

    /// `if dst == imm goto to`.
    pub fn jump_if_eq(&mut self, dst: Reg, imm: i32, to: Label) {
        self.jump(insn(JEQ_K, dst, Reg::R0, 0, imm), to);
    }

    /// `if dst != imm goto to`.
    pub fn jump_if_ne(&mut self, dst: Reg, imm: i32, to: Label) {
        self.jump(insn(JNE_K, dst, Reg::R0, 0, imm), to);
    }

    /// `if dst != src goto to`.
    pub fn jump_if_ne_reg(&mut self, dst: Reg, src: Reg, to: Label) {
        self.jump(insn(JNE_X, dst, src, 0, 0), to);
    }

    /// `return R0`.
    pub fn exit(&mut self) {
        self.insns.push(insn(EXIT, Reg::R0, Reg::R0, 0, 0));
    }

    fn jump(&mut self, jump: Insn, to: Label) {
        self.jumps.push((self.insns.len(), to));
        self.insns.push(jump);
    }

    /// The program, every jump's offset filled in. A label never placed,
    /// or a jump back or beyond 32767 instructions, is a bug of the
    /// program's generator, not of its input.
    pub fn finish(mut self) -> Vec<Insn> {
        for (at, label) in self.jumps {
            let target = self.places[label.0].expect("every jumped-to label is placed");
            let offset = target.checked_sub(at + 1).expect("jumps go forward");
            self.insns[at].off = i16::try_from(offset).expect("a jump within 32767 instructions");
        }
        self.insns
    }
}

/// The low half of a register, which the 32-bit ALU operations act on.
#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // dropping the high half is the operation
fn low32(value: u64) -> u32 {
    value as u32
}

/// Runs `program` on a context of 32-bit words, as the kernel would: for
/// tests of what a generated program decides, beyond its shape.
#[cfg(test)]
pub fn run(program: &[Insn], context: &[u32]) -> u64 {
    let mut reg = [0u64; 6];
    let mut pc = 0;
    loop {
        let insn = program[pc];
        pc += 1;
        let (dst, src) = if cfg!(target_endian = "little") {
            (usize::from(insn.regs & 0xf), usize::from(insn.regs >> 4))
        } else {
            (usize::from(insn.regs >> 4), usize::from(insn.regs & 0xf))
        };
        let imm = i64::from(insn.imm).cast_unsigned();
        let target = pc.wrapping_add_signed(isize::from(insn.off));
        match insn.code {
            LDX_W => {
                assert_eq!(src, Reg::R1 as usize, "loads read the context");
                reg[dst] = u64::from(context[usize::try_from(insn.off).unwrap() / 4]);
            }
            AND32_K => reg[dst] = u64::from(low32(reg[dst]) & low32(imm)),
            RSH32_K => reg[dst] = u64::from(low32(reg[dst]) >> imm),
            MOV32_X => reg[dst] = u64::from(low32(reg[src])),
            MOV64_K => reg[dst] = imm,
            JEQ_K if reg[dst] == imm => pc = target,
            JNE_K if reg[dst] != imm => pc = target,
            JNE_X if reg[dst] != reg[src] => pc = target,
            JEQ_K | JNE_K | JNE_X => {}
            EXIT => return reg[0],
            other => panic!("unknown eBPF code {other:#x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_kernel_layout() {
        let mut encoder = Encoder::default();
        let skip = encoder.label();
        encoder.load_u32(Reg::R2, Reg::R1, 4);
        encoder.jump_if_ne(Reg::R2, 7, skip);
        encoder.mov64(Reg::R0, 1);
        encoder.exit();
        encoder.place(skip);
        encoder.mov64(Reg::R0, 0);
        encoder.exit();
        let program = encoder.finish();
        // ldxw r2, [r1+4]: class LDX, size W, mode MEM; dst 2, src 1.
        assert_eq!(program[0], Insn { code: 0x61, regs: 0x12, off: 4, imm: 0 });
        // jne r2, 7, +2 skips the allow and its exit.
        assert_eq!(program[1], Insn { code: 0x55, regs: 0x02, off: 2, imm: 7 });
        assert_eq!(program[2], Insn { code: 0xb7, regs: 0x00, off: 0, imm: 1 });
        assert_eq!(program[3].code, 0x95);
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(run(&program, &[0, 7, 0]), 1);
        assert_eq!(run(&program, &[0, 8, 0]), 0);
    }

    #[test]
    #[should_panic(expected = "every jumped-to label is placed")]
    fn an_unplaced_label_is_a_bug() {
        let mut encoder = Encoder::default();
        let nowhere = encoder.label();
        encoder.jump_if_eq(Reg::R0, 0, nowhere);
        encoder.finish();
    }
}
