namespace Fabric.Hardware.Migration;

/// <summary>
/// The Linux errno values KVM's vGICv5 device returns, negated, from KVM_SET_DEVICE_ATTR / KVM_GET_DEVICE_ATTR
/// (SEMANTICS.md §4 "Errors"; S5 arm-vgic-v5.rst; vgic-kvm-device.c vgic_check_iorange). Only those the model can
/// produce: -EFAULT (a bad user pointer), -ENOMEM (an allocation failing) and -ETIMEDOUT (an IRS operation timing out)
/// have no counterpart here — there are no user pointers, allocation does not fail, and the IRS is always idle.
/// </summary>
public enum Errno
{
    None = 0,
    /// <summary>No such register or attribute; the VM is not configured as the call requires.</summary>
    ENXIO = 6,
    /// <summary>The IRS address lies outside the guest's physical address range.</summary>
    E2BIG = 7,
    /// <summary>Wrong time: not initialised, a vCPU running or already run, an LPI IST already there, not quiesced.</summary>
    EBUSY = 16,
    /// <summary>The IRS address was already set.</summary>
    EEXIST = 17,
    /// <summary>A value, size or buffer that does not fit the VM's configuration.</summary>
    EINVAL = 22,
}

/// <summary>The result of one KVM device-attribute call: 0, or -errno and why. A refused call changed nothing.</summary>
public readonly record struct KvmStatus(Errno Errno, string Message)
{
    public static KvmStatus Success => new(Errno.None, "");

    public static KvmStatus Fail(Errno errno, string message) => new(errno, message);

    public bool Ok => Errno == Errno.None;

    /// <summary>What the ioctl returns: 0 or -errno.</summary>
    public int ReturnValue => -(int)Errno;

    public override string ToString() => Ok ? "0" : $"-{Errno}: {Message}";
}
