//! A small classic-BPF assembler: instructions with symbolic jump targets,
//! laid out and resolved into `sock_filter`s. Conditional jumps reach at
//! most 255 instructions ahead; the compiler keeps them short and uses
//! `ja` (32-bit offset) for long jumps, and resolution fails loudly if a
//! conditional jump still ends up too far.

use serde::{Deserialize, Serialize};

pub const LD_W_ABS: u16 = 0x20;
pub const ALU_AND_K: u16 = 0x54;
pub const JMP_JA: u16 = 0x05;
pub const JMP_JEQ_K: u16 = 0x15;
pub const JMP_JGT_K: u16 = 0x25;
pub const JMP_JGE_K: u16 = 0x35;
pub const RET_K: u16 = 0x06;

/// The kernel's limit on a filter's length (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = 4096;

/// One `struct sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instruction {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The next instruction.
    Next,
    To(Label),
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Plain { code: u16, k: u32 },
    Jump { code: u16, k: u32, jt: Target, jf: Target },
    Always(Label),
    Place(Label),
}

#[derive(Default)]
pub struct Assembler {
    ops: Vec<Op>,
    labels: usize,
}

impl Assembler {
    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    pub fn place(&mut self, label: Label) {
        self.ops.push(Op::Place(label));
    }

    /// `A = seccomp_data[offset]` (32 bits).
    pub fn load(&mut self, offset: u32) {
        self.ops.push(Op::Plain { code: LD_W_ABS, k: offset });
    }

    pub fn and(&mut self, mask: u32) {
        self.ops.push(Op::Plain { code: ALU_AND_K, k: mask });
    }

    pub fn ret(&mut self, action: u32) {
        self.ops.push(Op::Plain { code: RET_K, k: action });
    }

    /// `if A <cmp> k goto jt else goto jf`, `cmp` one of the JMP_*_K codes.
    pub fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        self.ops.push(Op::Jump { code, k, jt, jf });
    }

    pub fn always(&mut self, to: Label) {
        self.ops.push(Op::Always(to));
    }

    pub fn assemble(self) -> Result<Vec<Instruction>, String> {
        let mut positions = vec![usize::MAX; self.labels];
        let mut position = 0;
        for op in &self.ops {
            match op {
                Op::Place(Label(label)) => positions[*label] = position,
                _ => position += 1,
            }
        }
        if position > MAX_INSTRUCTIONS {
            return Err(format!(
                "the filter needs {position} BPF instructions, more than the kernel's {MAX_INSTRUCTIONS}"
            ));
        }
        let mut out = Vec::with_capacity(position);
        for op in &self.ops {
            let here = out.len();
            let offset = |target: Target| -> Result<u32, String> {
                match target {
                    Target::Next => Ok(0),
                    Target::To(Label(label)) => {
                        let to = positions[label];
                        to.checked_sub(here + 1)
                            .map(|offset| u32::try_from(offset).expect("within MAX_INSTRUCTIONS"))
                            .ok_or_else(|| "a BPF jump goes backwards".to_owned())
                    }
                }
            };
            match *op {
                Op::Place(_) => {}
                Op::Plain { code, k } => out.push(Instruction { code, jt: 0, jf: 0, k }),
                Op::Always(to) => {
                    out.push(Instruction { code: JMP_JA, jt: 0, jf: 0, k: offset(Target::To(to))? })
                }
                Op::Jump { code, k, jt, jf } => {
                    let short = |offset: u32| {
                        u8::try_from(offset).map_err(|_| {
                            format!("a BPF conditional jump of {offset} exceeds 255 instructions")
                        })
                    };
                    out.push(Instruction {
                        code,
                        jt: short(offset(jt)?)?,
                        jf: short(offset(jf)?)?,
                        k,
                    })
                }
            }
        }
        Ok(out)
    }
}

/// Runs a filter on one `seccomp_data`, as the kernel would: for tests.
#[cfg(test)]
pub fn run(program: &[Instruction], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(&nr.to_ne_bytes());
    data.extend_from_slice(&arch.to_ne_bytes());
    data.extend_from_slice(&0u64.to_ne_bytes());
    for arg in args {
        data.extend_from_slice(&arg.to_ne_bytes());
    }
    let mut a: u32 = 0;
    let mut pc = 0;
    loop {
        let insn = program[pc];
        pc += 1;
        match insn.code {
            LD_W_ABS => {
                let at = insn.k as usize;
                a = u32::from_ne_bytes(data[at..at + 4].try_into().unwrap());
            }
            ALU_AND_K => a &= insn.k,
            RET_K => return insn.k,
            JMP_JA => pc += insn.k as usize,
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => {
                let taken = match insn.code {
                    JMP_JEQ_K => a == insn.k,
                    JMP_JGT_K => a > insn.k,
                    _ => a >= insn.k,
                };
                pc += if taken { insn.jt } else { insn.jf } as usize;
            }
            other => panic!("unknown BPF code {other:#x}"),
        }
    }
}
